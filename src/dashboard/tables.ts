// The dashboard's hourly text tables, written as strings: 576 linked cells a view, each from parts made once (the
// link's department and status once per table, its hour once per hour) rather than a URLSearchParams and five
// template escapes per cell. The markup is the one the template wrote, byte for byte.
import type { Counts } from './service.js';
import type { Outcome } from './store.js';

/** The send log's filter for an outcome of the counts (none for accepted); retried: retried at least once, whatever the status now. */
const filterOf: Record<Outcome, [string, string] | null> = { accepted: null, sent: ['status', 'sent'], retried: ['retried', '1'], failed: ['status', 'failed'] };

/** The same escaping as the templates' `<%= %>` (Eta's), so that strings made here read as the template's did. */
const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function xmlEscape(value: string): string {
  return /[&<>"']/.test(value) ? value.replace(/[&<>"']/g, (c) => escapes[c]!) : value;
}

/** Remembers what is worked out from an hour (the same few hundred hours come back every view), boundedly. */
function remembered<T>(make: (ms: number) => T): (ms: number) => T {
  const known = new Map<number, T>();
  return (ms) => {
    let value = known.get(ms);
    if (value === undefined) {
      // The page asks for the same few hundred hours again and again.
      if (known.size > 5000) known.clear();
      known.set(ms, (value = make(ms)));
    }
    return value;
  };
}

/** 2026-12-01T14:00Z: the counts' hours and days are whole minutes, and the log reads this form. */
const isoMinute = remembered((ms) => `${new Date(ms).toISOString().slice(0, 16)}Z`);

/** A link to the send log filtered as the counts are kept: by department, outcome and time of acceptance. */
export function logLink(filters: { department?: string; outcome?: Outcome; server?: number; since?: Date; until?: Date }): string {
  const params = new URLSearchParams();
  const outcome = filters.outcome && filterOf[filters.outcome];
  if (outcome) params.set(outcome[0], outcome[1]);
  if (filters.department) params.set('department', filters.department);
  if (filters.server !== undefined) params.set('server', String(filters.server));
  if (filters.since) params.set('since', isoMinute(filters.since.getTime()));
  if (filters.until) params.set('until', isoMinute(filters.until.getTime()));
  const query = params.toString();
  return query ? `/messages?${query}` : '/messages';
}

const hourMs = 3_600_000;
const tableOutcomes = ['accepted', 'sent', 'retried', 'failed'] as const;

/** An hour's row head and the escaped `since`/`until` query of its links (they come last in logLink's order). */
const hourParts = remembered((ms) => ({
  head: `<tr data-hour="${new Date(ms).toISOString()}">\n<th scope="row">`,
  window: xmlEscape(new URLSearchParams({ since: isoMinute(ms), until: isoMinute(ms + hourMs) }).toString()),
}));

export interface HourlyTableInput {
  department: string;
  hours: { hour: Date; counts: Counts }[];
  /** The hour as the row's header shows it (not escaped). */
  hourText: (hour: Date) => string;
  /** A count as shown (digits and spaces: not escaped). */
  numberText: (n: number) => string;
}

/** The rows of a department's hourly table: the hours with any message, each count linked to the log's messages. */
export function hourlyTableRows({ department, hours, hourText, numberText }: HourlyTableInput): string {
  // logLink({ department, outcome, since, until }) is this prefix, then `&since=…&until=…`.
  const cellStarts = tableOutcomes.map((outcome) => `<td data-outcome="${outcome}"><a href="${xmlEscape(logLink({ department, outcome }))}&amp;`);
  // Joined, not appended: a string grown by += is a tree of thousands of pieces that turning the page into bytes
  // then has to walk (about 0.1 µs a piece); join makes it flat at once.
  const html: string[] = [];
  for (const { hour, counts } of hours) {
    if (!(counts.accepted > 0 || counts.sent > 0 || counts.retried > 0 || counts.failed > 0)) continue;
    const parts = hourParts(hour.getTime());
    html.push(`${parts.head}${xmlEscape(hourText(hour))}</th>\n`);
    for (let i = 0; i < tableOutcomes.length; i++) html.push(`${cellStarts[i]}${parts.window}">${numberText(counts[tableOutcomes[i]!])}</a></td>`);
    html.push('</tr>\n');
  }
  return html.join('');
}
