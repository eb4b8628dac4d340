import type { MessageKey } from '../i18n/index.js';

/** The table's columns in the help page's order; `links` holds the row actions. */
export const serverColumns = [
  'id',
  'title',
  'host',
  'port',
  'authentication',
  'security',
  'email',
  'senderName',
  'username',
  'usage',
  'confirmation',
  'links',
] as const;

export type ServerColumn = (typeof serverColumns)[number];
export type SortableColumn = Exclude<ServerColumn, 'links'>;
export type SortDirection = 'asc' | 'desc';

export const defaultColumns: readonly ServerColumn[] = serverColumns;
export const sortableColumns: readonly SortableColumn[] = serverColumns.filter((c): c is SortableColumn => c !== 'links');
export const defaultSort: { sort: SortableColumn; dir: SortDirection } = { sort: 'title', dir: 'asc' };
export const perPageChoices = [25, 50, 100] as const;
export const defaultPerPage = 25;
export const columnsCookieName = 'relais_columns';

export function columnLabelKey(column: ServerColumn): MessageKey {
  return `column.${column}` as MessageKey;
}

export function isServerColumn(value: unknown): value is ServerColumn {
  return typeof value === 'string' && (serverColumns as readonly string[]).includes(value);
}

export function isSortableColumn(value: unknown): value is SortableColumn {
  return typeof value === 'string' && (sortableColumns as readonly string[]).includes(value);
}

/** Keeps the canonical order whatever order the browser sent; an empty or unreadable choice means the defaults. */
export function visibleColumnsFrom(chosen: unknown): ServerColumn[] {
  const values = Array.isArray(chosen) ? chosen : typeof chosen === 'string' ? chosen.split(',') : [];
  const set = new Set(values.filter(isServerColumn));
  if (set.size === 0) return [...defaultColumns];
  return serverColumns.filter((c) => set.has(c));
}

export function serializeColumns(columns: readonly ServerColumn[]): string {
  return columns.join(',');
}

// Columns that share a cell when both are shown, so the default columns fit 1280 px: "host:port", the sender name under the mail.
const sharedCells: readonly (readonly [ServerColumn, ServerColumn])[] = [
  ['host', 'port'],
  ['email', 'senderName'],
];

/** The table's cells, left to right: each lists the columns it shows (one, or a pair that shares a cell). */
export function tableCells(columns: readonly ServerColumn[]): ServerColumn[][] {
  const cells: ServerColumn[][] = [];
  for (const column of columns) {
    const previous = cells.at(-1);
    if (previous?.length === 1 && sharedCells.some(([a, b]) => a === previous[0] && b === column)) previous.push(column);
    else cells.push([column]);
  }
  return cells;
}
