import type { FastifyInstance } from 'fastify';
import { formatDateTime } from '../i18n/index.js';
import { hourMs, dayMs } from './latency.js';
import { formatDuration, hourlyChart, hourlyLegend, latencyChart, latencyLegend } from './charts.js';
import { dashboardOf, type DepartmentPanel } from './service.js';
import { hourlyTableRows, logLink } from './tables.js';

const numberFormats = { fr: new Intl.NumberFormat('fr-FR'), en: new Intl.NumberFormat('en-GB') };
const formattedNumbers = { fr: new Map<number, string>(), en: new Map<number, string>() };

/** A count in the language's digits: the page shows a few hundred, mostly the same ones view after view. */
function numberFormatOf(locale: 'fr' | 'en'): (value: number) => string {
  const format = numberFormats[locale];
  const known = formattedNumbers[locale];
  return (value) => {
    let text = known.get(value);
    if (text === undefined) {
      if (known.size > 10_000) known.clear();
      known.set(value, (text = format.format(value)));
    }
    return text;
  };
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
    const formatNumber = numberFormatOf(locale);
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
      formatNumber,
      formatDateTime: (at: Date | null) => (at ? when(at) : ''),
      hourLabel,
      dayLabel,
      logLink,
      hourlyRows: (panel: DepartmentPanel) => hourlyTableRows({ department: panel.department.code, hours: panel.hours, hourText: when, numberText: formatNumber }),
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
