import { formatDateTime, type Locale, type MessageKey, type Translate } from '../../i18n/index.js';
import { columnLabelKey, defaultColumns, type ServerColumn, type SortableColumn, type SortDirection } from '../columns.js';
import type { ServerListItem } from '../repository.js';
import { authenticationModes, securityModes } from '../validation.js';
import { storedFailureWords } from '../../smtp/diagnosis.js';

/** Every table column but the row actions. */
export type ExportColumn = Exclude<ServerColumn, 'links'>;

/** A date shown as words around it ("Confirmé le 27/11/2026 10:15"): text for CSV and PDF, a real date for Excel. */
export class DateCell {
  constructor(
    readonly date: Date,
    private readonly locale: Locale,
    private readonly before: string,
    private readonly after: string,
    /** Excel number format that renders the same words around the date. */
    readonly excelFormat: string,
  ) {}

  /** Formatted only when asked: Excel never needs it. */
  get text(): string {
    return `${this.before}${formatDateTime(this.locale, this.date)}${this.after}`;
  }
}

export type CellValue = string | number | DateCell;

/** One column of an export: the server list's by default, another listing's (the send log's) when given its row and keys. */
export interface ExportColumnSpec<Row = ServerListItem, Key extends string = ExportColumn> {
  key: Key;
  label: string;
  /** Excel width in characters. */
  width: number;
  /** Share of the PDF table's width. */
  weight: number;
  numeric: boolean;
  value: (row: Row) => CellValue;
}

/** Everything an export needs to word its cells and headings like the page does. */
export interface ExportContext {
  locale: Locale;
  t: Translate;
  /** The time zone dates are shown in (the same as the pages). */
  timeZone: string;
}

export interface ExportMeta {
  /** Shown above the PDF table. */
  title: string;
  /** Excel sheet name (≤ 31 characters, no : \ / ? * [ ]). */
  sheetName: string;
  exportedAt: Date;
  q: string;
  sort: SortableColumn;
  dir: SortDirection;
}

/**
 * A text that a spreadsheet could take for a formula (=, +, -, @, tab, CR at the start) gets a leading apostrophe,
 * so opening the file never runs anything (OWASP "CSV injection").
 */
export function neutralizeFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export function cellText(value: CellValue): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  return value.text;
}

/** The Excel format that writes a date the way the page does: "dd/mm/yyyy hh:mm" (French) or "dd/mm/yyyy, hh:mm" (British English). */
function excelDateFormat(locale: Locale): string {
  return locale === 'fr' ? 'dd/mm/yyyy hh:mm' : 'dd/mm/yyyy, hh:mm';
}

/** Turns "Confirmé le {at}" into the Excel format `"Confirmé le "dd/mm/yyyy hh:mm`. */
function excelFormatAround(template: string, placeholder: string, locale: Locale): string {
  const [before = '', after = ''] = template.split(`{${placeholder}}`);
  const literal = (s: string) => (s ? `"${s.replace(/"/g, '')}"` : '');
  return `${literal(before)}${excelDateFormat(locale)}${literal(after)}`;
}

/**
 * The words the table's Confirmation column shows (views/smtp-servers/_confirmation.eta): the confirmation state,
 * then the last connection test on a line of its own. Built once per export: the templates are looked up once.
 * A confirmed server with no test result is a date cell, so Excel can sort and filter it as a date.
 */
export function confirmationCells(context: ExportContext): (server: ServerListItem) => CellValue {
  const { t, locale } = context;
  const now = Date.now();
  const [before = '', after = ''] = t('confirmation.confirmed').split('{at}');
  const excelFormat = excelFormatAround(t('confirmation.confirmed'), 'at', locale);
  const unconfirmed = t('confirmation.unconfirmed');
  const when = (date: Date | null) => formatDateTime(locale, date);
  const state = (server: ServerListItem): CellValue => {
    switch (server.confirmationStatus) {
      case 'confirmed':
        if (!server.confirmedAt) return `${before}${after}`.trim();
        return new DateCell(server.confirmedAt, locale, before, after, excelFormat);
      case 'pending':
        if (server.confirmationExpiresAt && server.confirmationExpiresAt.getTime() <= now) {
          return t('confirmation.expired', { expires: when(server.confirmationExpiresAt) });
        }
        return t('confirmation.pending', { sent: when(server.confirmationSentAt), expires: when(server.confirmationExpiresAt) });
      case 'failed':
        return t('confirmation.failed', { reason: storedFailureWords(server.confirmationError, t) });
      default:
        return unconfirmed;
    }
  };
  return (server) => {
    const value = state(server);
    if (!server.lastTestAt) return value;
    const test = t(server.lastTestOk ? 'lastTest.ok' : 'lastTest.failed', { at: when(server.lastTestAt) });
    return `${cellText(value)}\n${test}`;
  };
}

type ColumnShape = Omit<ExportColumnSpec, 'key' | 'label' | 'value'> & {
  /** Builds, once per export, the function that gives a row's cell. */
  value: (context: ExportContext) => (server: ServerListItem) => CellValue;
};

function labelled<T extends string>(context: ExportContext, prefix: string, values: readonly T[]): Record<T, string> {
  return Object.fromEntries(values.map((v) => [v, context.t(`${prefix}.${v}` as MessageKey)])) as Record<T, string>;
}

// Each column reads named fields only: a column can never carry the password or any other secret.
const shapes: Record<ExportColumn, ColumnShape> = {
  id: { width: 8, weight: 4, numeric: true, value: () => (s) => s.id },
  title: { width: 30, weight: 13, numeric: false, value: () => (s) => s.title },
  host: { width: 28, weight: 13, numeric: false, value: () => (s) => s.host },
  port: { width: 8, weight: 5, numeric: true, value: () => (s) => s.port },
  authentication: {
    width: 18,
    weight: 10,
    numeric: false,
    value: (c) => {
      const labels = labelled(c, 'authentication', authenticationModes);
      return (s) => labels[s.authentication];
    },
  },
  security: {
    width: 12,
    weight: 7,
    numeric: false,
    value: (c) => {
      const labels = labelled(c, 'security', securityModes);
      return (s) => labels[s.security];
    },
  },
  email: { width: 30, weight: 15, numeric: false, value: () => (s) => s.email },
  senderName: { width: 24, weight: 11, numeric: false, value: () => (s) => s.senderName },
  username: { width: 28, weight: 13, numeric: false, value: () => (s) => s.username },
  usage: {
    width: 24,
    weight: 10,
    numeric: false,
    value: (c) => {
      const byDefault = c.t('usage.default');
      return (s) => (s.usage === 'default' ? byDefault : s.departments.map((d) => d.name).join(', '));
    },
  },
  confirmation: { width: 34, weight: 14, numeric: false, value: confirmationCells },
};

export function isExportColumn(column: ServerColumn): column is ExportColumn {
  return column !== 'links';
}

/**
 * The visible columns in on-screen order and words, without the row actions.
 * If only the actions column is visible there is nothing to export: the default columns are used instead.
 */
export function exportColumns(visible: readonly ServerColumn[], context: ExportContext): ExportColumnSpec[] {
  let keys = visible.filter(isExportColumn);
  if (keys.length === 0) keys = defaultColumns.filter(isExportColumn);
  return keys.map((key) => {
    const shape = shapes[key];
    const label = context.t(columnLabelKey(key));
    return {
      key,
      label,
      width: Math.max(shape.width, label.length + 4),
      weight: shape.weight,
      numeric: shape.numeric,
      value: shape.value(context),
    };
  });
}

/** "2026-11-27" in the display time zone, for file names. */
export function isoDay(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at that instant, in ms (Intl's formatToParts: about 15 µs a call). */
function offsetAt(time: number, timeZone: string): number {
  let format = wallClockFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallClockFormats.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(time)) parts[part.type] = Number(part.value);
  const whole = time - (((time % 1000) + 1000) % 1000);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) - whole;
}

const day = 86_400_000;
/** Per zone and UTC day: the day's offset, or null on a day the offset changes. */
const dailyOffsets = new Map<string, Map<number, number | null>>();

function zoneOffset(date: Date, timeZone: string): number {
  let days = dailyOffsets.get(timeZone);
  if (!days) dailyOffsets.set(timeZone, (days = new Map()));
  const time = date.getTime();
  const index = Math.floor(time / day);
  let offset = days.get(index);
  if (offset === undefined) {
    const start = offsetAt(index * day, timeZone);
    offset = start === offsetAt((index + 1) * day - 1, timeZone) ? start : null;
    if (days.size > 10_000) days.clear();
    days.set(index, offset);
  }
  return offset ?? offsetAt(time, timeZone);
}

/**
 * The same instant moved so that its UTC fields read as the wall clock of the time zone:
 * Excel dates have no time zone and show the UTC fields exceljs writes.
 */
export function wallClock(date: Date, timeZone: string): Date {
  return new Date(date.getTime() + zoneOffset(date, timeZone));
}
