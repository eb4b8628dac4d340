// Charts drawn on the server as SVG: no script, readable by lynx through the table beside each one.
// Okabe-Ito colours, each series with a second cue (a pattern or a marker) and the legend in stacking order.
import { escapeHtml } from '../web/escape.js';
import type { Counts, LatencyDay } from './service.js';

type T = (key: string, params?: Record<string, string | number>) => string;

export const stackedOutcomes = ['sent', 'retried', 'failed'] as const;

const colours = { sent: '#009E73', retried: '#E69F00', failed: '#D55E00', accepted: '#000000', p50: '#0072B2', p95: '#CC79A7' } as const;

const fills = { sent: (id: string) => colours.sent, retried: (id: string) => `url(#${id}-retried)`, failed: (id: string) => `url(#${id}-failed)` };

function patterns(id: string): string {
  return (
    `<defs>` +
    `<pattern id="${id}-retried" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="6" height="6" fill="${colours.retried}"/><rect width="2" height="6" fill="#ffffff"/></pattern>` +
    `<pattern id="${id}-failed" width="6" height="6" patternUnits="userSpaceOnUse">` +
    `<rect width="6" height="6" fill="${colours.failed}"/><circle cx="3" cy="3" r="1.3" fill="#ffffff"/></pattern>` +
    `</defs>`
  );
}

/** A round number at least `max`, for the top of an axis. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

export interface HourlyChartInput {
  id: string;
  title: string;
  hours: { hour: Date; counts: Counts }[];
  hourLabel: (hour: Date) => string;
  t: T;
}

/** Messages per hour, stacked by outcome (sent, retried, failed), the accepted ones as a black tick above. */
export function hourlyChart({ id, title, hours, hourLabel, t }: HourlyChartInput): string {
  const width = 720;
  const height = 200;
  const left = 40;
  const right = 8;
  const top = 12;
  const bottom = 28;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(0, ...hours.map(({ counts }) => Math.max(counts.accepted, counts.sent + counts.retried + counts.failed))));
  const slot = plotW / Math.max(hours.length, 1);
  const barW = Math.max(1, slot * 0.75);
  const y = (value: number) => top + plotH - (value / max) * plotH;
  const parts: string[] = [];
  const total = hours.reduce((sum, { counts }) => sum + counts.accepted, 0);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc">`,
    `<title id="${id}-title">${escapeHtml(title)}</title>`,
    `<desc id="${id}-desc">${escapeHtml(total === 0 ? t('dashboard.chart.empty') : t('dashboard.chart.hourlyDesc', { count: total, hours: hours.length }))}</desc>`,
    patterns(id),
    `<g class="chart-axis" font-size="11" fill="#333">`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#555"/>`,
    `<line x1="${left}" y1="${top}" x2="${width - right}" y2="${top}" stroke="#ddd"/>`,
    `<text x="${left - 4}" y="${top + 4}" text-anchor="end">${fmt(max)}</text>`,
    `<text x="${left - 4}" y="${top + plotH + 4}" text-anchor="end">0</text>`,
  );
  hours.forEach(({ hour }, i) => {
    if (i % 6 !== 0) return;
    const x = left + i * slot;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top + plotH}" x2="${x.toFixed(1)}" y2="${top + plotH + 4}" stroke="#555"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${height - 8}">${escapeHtml(hourLabel(hour))}</text>`);
  });
  parts.push(`</g>`);
  // One group per outcome holds its fill and stroke: each bar is then only its rectangle.
  const bars: Record<(typeof stackedOutcomes)[number], string[]> = { sent: [], retried: [], failed: [] };
  const ticks: string[] = [];
  hours.forEach(({ counts }, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let base = 0;
    for (const outcome of stackedOutcomes) {
      const n = counts[outcome];
      if (n <= 0) continue;
      const y1 = y(base + n);
      const h = y(base) - y1;
      bars[outcome].push(`<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(h, 0.5).toFixed(1)}"/>`);
      base += n;
    }
    if (counts.accepted > 0) {
      const ya = y(counts.accepted).toFixed(1);
      ticks.push(`<line x1="${x.toFixed(1)}" y1="${ya}" x2="${(x + barW).toFixed(1)}" y2="${ya}"/>`);
    }
  });
  for (const outcome of stackedOutcomes) {
    if (bars[outcome].length) parts.push(`<g fill="${fills[outcome](id)}" stroke="${colours[outcome]}" stroke-width="0.5">${bars[outcome].join('')}</g>`);
  }
  if (ticks.length) parts.push(`<g stroke="${colours.accepted}" stroke-width="2">${ticks.join('')}</g>`);
  parts.push(`</svg>`);
  return parts.join('');
}

/** The legend beside the hourly charts, in stacking order (bottom first), as HTML. */
export function hourlyLegend(t: T): string {
  const id = 'legend';
  const swatch = (outcome: (typeof stackedOutcomes)[number]) =>
    `<li><svg width="14" height="14" aria-hidden="true" focusable="false">${outcome === 'sent' ? '' : patterns(`${id}-${outcome}`)}<rect width="14" height="14" fill="${fills[outcome](`${id}-${outcome}`)}" stroke="${colours[outcome]}"/></svg> ${escapeHtml(t(`dashboard.outcome.${outcome}`))}</li>`;
  return (
    `<ul class="chart-legend">` +
    stackedOutcomes.map(swatch).join('') +
    `<li><svg width="14" height="14" aria-hidden="true" focusable="false"><line x1="0" y1="7" x2="14" y2="7" stroke="#000" stroke-width="2"/></svg> ${escapeHtml(t('dashboard.outcome.accepted'))}</li>` +
    `</ul>`
  );
}

/** 850 ms, 1.2 s, 3.5 min, 2.0 h: a latency in words short enough for a table cell. */
const durationFormats = new Map<string, Intl.NumberFormat>();

export function formatDuration(ms: number, locale: string): string {
  const num = (n: number, digits: number) => {
    const key = `${locale}${digits}`;
    let format = durationFormats.get(key);
    if (!format) durationFormats.set(key, (format = new Intl.NumberFormat(locale === 'fr' ? 'fr-FR' : 'en-GB', { maximumFractionDigits: digits })));
    return format.format(n);
  };
  if (ms < 1000) return `${num(Math.round(ms), 0)} ms`;
  if (ms < 60_000) return `${num(ms / 1000, 1)} s`;
  if (ms < 3_600_000) return `${num(ms / 60_000, 1)} min`;
  return `${num(ms / 3_600_000, 1)} h`;
}

export interface LatencyChartInput {
  id: string;
  title: string;
  days: LatencyDay[];
  dayLabel: (day: Date) => string;
  locale: string;
  t: T;
}

/** p50 (solid line, circles) and p95 (dashed line, squares) of the delivery latency per day, on a log scale. */
export function latencyChart({ id, title, days, dayLabel, locale, t }: LatencyChartInput): string {
  const width = 720;
  const height = 220;
  const left = 64;
  const right = 12;
  const top = 12;
  const bottom = 28;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = days.flatMap((d) => [d.p50Ms, d.p95Ms]).filter((v): v is number => v !== null);
  const low = Math.max(1, 10 ** Math.floor(Math.log10(Math.min(...values, 1000))));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, low * 10)));
  const y = (ms: number) => top + plotH - ((Math.log10(ms) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * plotH;
  const step = plotW / Math.max(days.length, 1);
  const x = (i: number) => left + step * (i + 0.5);
  const delivered = days.reduce((sum, d) => sum + d.delivered, 0);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc">`,
    `<title id="${id}-title">${escapeHtml(title)}</title>`,
    `<desc id="${id}-desc">${escapeHtml(delivered === 0 ? t('dashboard.chart.empty') : t('dashboard.latency.desc', { count: delivered, days: days.length }))}</desc>`,
    `<g class="chart-axis" font-size="11" fill="#333">`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#555"/>`,
  ];
  for (let tick = low; tick <= high; tick *= 10) {
    parts.push(`<line x1="${left}" y1="${y(tick).toFixed(1)}" x2="${width - right}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 4}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${escapeHtml(formatDuration(tick, locale))}</text>`);
  }
  days.forEach((d, i) => {
    if (i % 2 !== 0) return;
    parts.push(`<text x="${x(i).toFixed(1)}" y="${height - 8}" text-anchor="middle">${escapeHtml(dayLabel(d.day))}</text>`);
  });
  parts.push(`</g>`);
  const series = (key: 'p50Ms' | 'p95Ms', colour: string, dash: string, marker: (cx: number, cy: number) => string) => {
    const points = days.flatMap((d, i) => (d[key] === null ? [] : [[x(i), y(d[key]!)] as const]));
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`);
    for (const [px, py] of points) parts.push(marker(px, py));
  };
  series('p50Ms', colours.p50, '', (cx, cy) => `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${colours.p50}"/>`);
  series('p95Ms', colours.p95, ' stroke-dasharray="6 3"', (cx, cy) => `<rect x="${(cx - 4).toFixed(1)}" y="${(cy - 4).toFixed(1)}" width="8" height="8" fill="${colours.p95}"/>`);
  parts.push(`</svg>`);
  return parts.join('');
}

export function latencyLegend(t: T): string {
  return (
    `<ul class="chart-legend">` +
    `<li><svg width="22" height="14" aria-hidden="true" focusable="false"><line x1="0" y1="7" x2="22" y2="7" stroke="${colours.p50}" stroke-width="2"/><circle cx="11" cy="7" r="4" fill="${colours.p50}"/></svg> ${escapeHtml(t('dashboard.latency.p50'))}</li>` +
    `<li><svg width="22" height="14" aria-hidden="true" focusable="false"><line x1="0" y1="7" x2="22" y2="7" stroke="${colours.p95}" stroke-width="2" stroke-dasharray="6 3"/><rect x="7" y="3" width="8" height="8" fill="${colours.p95}"/></svg> ${escapeHtml(t('dashboard.latency.p95'))}</li>` +
    `</ul>`
  );
}
