import type { FastifyInstance } from 'fastify';
import { formatDateTime } from '../i18n/index.js';
import { hourMs, dayMs } from './latency.js';
import { formatDuration, hourlyChart, hourlyLegend, latencyChart, latencyLegend } from './charts.js';
import { dashboardOf, type DepartmentPanel } from './service.js';
import type { Outcome } from './store.js';

/** The send log's status for an outcome of the counts ('' for every status: accepted). */
const statusOf: Record<Outcome, string> = { accepted: '', sent: 'sent', retried: 'retry', failed: 'failed' };

const numberFormats = { fr: new Intl.NumberFormat('fr-FR'), en: new Intl.NumberFormat('en-GB') };

/** 2026-12-01T14:00Z: the counts' hours and days are whole minutes, and the log reads this form. */
const isoMinutes = new Map<number, string>();
function isoMinute(at: Date): string {
  let iso = isoMinutes.get(at.getTime());
  if (iso === undefined) {
    iso = `${at.toISOString().slice(0, 16)}Z`;
    // The page asks for the same few hundred hours again and again: remember them, boundedly.
    if (isoMinutes.size > 5000) isoMinutes.clear();
    isoMinutes.set(at.getTime(), iso);
  }
  return iso;
}

/** A link to the send log filtered as the counts are kept: by department, status and time of acceptance. */
export function logLink(filters: { department?: string; outcome?: Outcome; server?: number; since?: Date; until?: Date }): string {
  const params = new URLSearchParams();
  if (filters.outcome && statusOf[filters.outcome]) params.set('status', statusOf[filters.outcome]);
  if (filters.department) params.set('department', filters.department);
  if (filters.server !== undefined) params.set('server', String(filters.server));
  if (filters.since) params.set('since', isoMinute(filters.since));
  if (filters.until) params.set('until', isoMinute(filters.until));
  const query = params.toString();
  return query ? `/messages?${query}` : '/messages';
}

/** The Tableau de bord: the health of the mail at a glance. Viewers and admins see it. */
export async function dashboardRoutes(app: FastifyInstance) {
  app.get('/tableau-de-bord', { config: { access: 'viewer' } }, async (request, reply) => {
    const dashboard = await dashboardOf(app.stores);
    const t = request.t as (key: string, params?: Record<string, string | number>) => string;
    const locale = request.locale;
    // Each hour is shown several times (chart, tables): formatted once per view.
    const formatted = new Map<number, string>();
    const when = (at: Date) => {
      let text = formatted.get(at.getTime());
      if (text === undefined) formatted.set(at.getTime(), (text = formatDateTime(locale, at)));
      return text;
    };
    const hourLabel = (hour: Date) => when(hour).slice(11);
    const dayLabel = (day: Date) => when(day).slice(0, 5);
    const chartOf = (panel: DepartmentPanel) =>
      hourlyChart({ id: `hourly-${panel.department.code}`, title: t('dashboard.hourly.chartTitle', { department: panel.department.name }), hours: panel.hours, hourLabel, t });
    return reply.page('dashboard/index', {
      title: t('dashboard.title'),
      dashboard,
      chartOf,
      hourlyLegend: hourlyLegend(t),
      latencyChart: latencyChart({ id: 'latency', title: t('dashboard.latency.title'), days: dashboard.latency, dayLabel, locale, t }),
      latencyLegend: latencyLegend(t),
      formatDuration: (ms: number) => formatDuration(ms, locale),
      formatNumber: (value: number) => numberFormats[locale].format(value),
      formatDateTime: (at: Date | null) => (at ? when(at) : ''),
      hourLabel,
      dayLabel,
      logLink,
      hourMs,
      dayMs,
      ago: (at: Date | null) => agoOf(dashboard.now, at, t),
    });
  });
}

/** « il y a 5 min », « jamais »: how long since a moment, in the UI language. */
export function agoOf(now: Date, at: Date | null, t: (key: string, params?: Record<string, string | number>) => string): string {
  if (!at) return t('dashboard.never');
  const seconds = Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000));
  if (seconds < 60) return t('dashboard.ago.seconds', { count: seconds });
  if (seconds < 3600) return t('dashboard.ago.minutes', { count: Math.floor(seconds / 60) });
  if (seconds < 86_400) return t('dashboard.ago.hours', { count: Math.floor(seconds / 3600) });
  return t('dashboard.ago.days', { count: Math.floor(seconds / 86_400) });
}
