import { en } from './en.js';
import { fr, type MessageKey } from './fr.js';

export type { MessageKey };
export const locales = ['fr', 'en'] as const;
export type Locale = (typeof locales)[number];

const catalogues: Record<Locale, Record<MessageKey, string>> = { fr, en };

export type Params = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: Params) => string;

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (locales as readonly string[]).includes(value);
}

/** A moment stored in a message's parameters (a diagnosis, an audit entry), shown in the reader's date format. */
const isoMoment = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;
export const isIsoMoment = (value: unknown): boolean => typeof value === 'string' && isoMoment.test(value);

export function translator(locale: Locale): Translate {
  const catalogue = catalogues[locale];
  const show = (value: string | number) => (isIsoMoment(value) ? formatDateTime(locale, new Date(value as string)) : String(value));
  return (key, params) => {
    const template = catalogue[key] ?? fr[key] ?? key;
    if (!params) return template;
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? show(params[name]!) : whole));
  };
}

/** The cookie wins; otherwise the first of the browser's preferences that we speak; French by default. */
export function pickLocale(cookieValue: string | undefined, acceptLanguage: string | undefined): Locale {
  if (isLocale(cookieValue)) return cookieValue;
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .split(',')
      .map((part, index) => {
        const [tag = '', ...paramParts] = part.trim().split(';');
        const q = paramParts.map((p) => p.trim()).find((p) => p.startsWith('q='));
        return { lang: tag.trim().toLowerCase().split('-')[0] ?? '', q: q ? Number(q.slice(2)) || 0 : 1, index };
      })
      .filter((entry) => entry.q > 0)
      .sort((a, b) => b.q - a.q || a.index - b.index);
    for (const entry of ranked) if (isLocale(entry.lang)) return entry.lang;
  }
  return 'fr';
}

const dateTimeFormats = new Map<Locale, Intl.DateTimeFormat>();
let timeZone = 'Europe/Paris';

/** The zone every date is shown in (config.timeZone, set once at start). */
export function displayTimeZone(): string {
  return timeZone;
}

export function useDisplayTimeZone(zone: string): void {
  if (zone === timeZone) return;
  timeZone = zone;
  dateTimeFormats.clear();
  offsets.clear();
  offsetFormat = undefined;
}

// The zone's offset from UTC by quarter of an hour (zones change offset on a quarter hour): formatToParts costs ten
// times the rest of a date's formatting, and the server list shows two dates a row.
const quarter = 15 * 60_000;
const offsets = new Map<number, number>();
let offsetFormat: Intl.DateTimeFormat | undefined;

function zoneOffsetAt(ms: number): number {
  offsetFormat ??= new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23', timeZone });
  const part = Object.fromEntries(offsetFormat.formatToParts(ms).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!) - (ms - (((ms % 1000) + 1000) % 1000));
}

function offsetOf(ms: number): number | null {
  const start = Math.floor(ms / quarter) * quarter;
  let offset = offsets.get(start);
  if (offset === undefined) {
    const first = zoneOffsetAt(start);
    // A quarter in which the offset changes (a zone of other days' rules) is formatted date by date.
    offset = first === zoneOffsetAt(start + quarter - 1000) ? first : NaN;
    if (offsets.size >= 10_000) offsets.clear();
    offsets.set(start, offset);
  }
  return Number.isNaN(offset) ? null : offset;
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** One format everywhere, day first: `09/02/2025 12:32` (English writes it the same way, without a comma). */
export function formatDateTime(locale: Locale, date: Date | null | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '';
  const offset = offsetOf(date.getTime());
  if (offset !== null) {
    const local = new Date(date.getTime() + offset);
    return `${two(local.getUTCDate())}/${two(local.getUTCMonth() + 1)}/${local.getUTCFullYear()} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}`;
  }
  let format = dateTimeFormats.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale === 'fr' ? 'fr-FR' : 'en-GB', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZone,
    });
    dateTimeFormats.set(locale, format);
  }
  const part = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  return `${part.day}/${part.month}/${part.year} ${part.hour}:${part.minute}`;
}
