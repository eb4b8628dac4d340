import type { MessageListQuery, MessageStatus } from '../outbox/types.js';

export const messageStatuses = ['queued', 'sending', 'retry', 'sent', 'failed', 'cancelled'] as const satisfies readonly MessageStatus[];
export const logPerPageChoices = [25, 50, 100] as const;
export const defaultLogPerPage = 50;

/** The log's state as it travels in the URL: bookmarkable, and the same for the page, the fragment and the exports. */
export interface LogState {
  q: string;
  status: MessageStatus | '';
  /** '1': only the messages retried at least once, whatever their status now (the dashboard's « Réessayés »); '' for all. */
  retried: '1' | '';
  /** A department's code; '' for every department. */
  department: string;
  /** A server's id in digits; '' for every server. */
  server: string;
  /** Accepted at or after this moment / before this one (ISO 8601, UTC: the dashboard's links); '' for no bound. */
  since: string;
  until: string;
  page: number;
  perPage: number;
}

/** An ISO 8601 UTC moment (2026-12-01T14:00Z, seconds and milliseconds optional) as its canonical form; '' otherwise. */
function momentFrom(raw: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/.test(raw)) return '';
  const at = new Date(raw);
  return Number.isNaN(at.getTime()) ? '' : at.toISOString();
}

function first(value: unknown): string {
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : '';
}

export function logStateFrom(query: Record<string, unknown>): LogState {
  const status = first(query.status);
  const department = first(query.department).trim();
  const server = first(query.server).trim();
  const page = Number.parseInt(first(query.page), 10);
  const perPage = Number.parseInt(first(query.per), 10);
  return {
    q: first(query.q).replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 200),
    status: (messageStatuses as readonly string[]).includes(status) ? (status as MessageStatus) : '',
    retried: first(query.retried) === '1' ? '1' : '',
    department: /^[a-z0-9][a-z0-9_-]{0,39}$/.test(department) ? department : '',
    server: /^[1-9]\d{0,15}$/.test(server) ? server : '',
    since: momentFrom(first(query.since).trim()),
    until: momentFrom(first(query.until).trim()),
    page: Number.isFinite(page) && page > 0 ? page : 1,
    perPage: (logPerPageChoices as readonly number[]).includes(perPage) ? perPage : defaultLogPerPage,
  };
}

/** What the outbox is asked for this state (all pages: without page and perPage). */
export function outboxQueryOf(state: LogState): MessageListQuery {
  return {
    q: state.q || undefined,
    status: state.status || undefined,
    retried: state.retried === '1' || undefined,
    department: state.department || undefined,
    serverId: state.server ? Number(state.server) : undefined,
    since: state.since ? new Date(state.since) : undefined,
    until: state.until ? new Date(state.until) : undefined,
  };
}

export const logFilterNames = ['status', 'retried', 'department', 'server', 'since', 'until'] as const;

/** A URL for this state with some parts changed; defaults are left out to keep URLs short. */
export function logUrl(state: LogState, changes: Partial<LogState> = {}, base = '/messages'): string {
  const next = { ...state, ...changes };
  const params = new URLSearchParams();
  if (next.q) params.set('q', next.q);
  for (const name of logFilterNames) if (next[name]) params.set(name, next[name]);
  if (next.perPage !== defaultLogPerPage) params.set('per', String(next.perPage));
  if (next.page > 1) params.set('page', String(next.page));
  const query = params.toString();
  return query ? `${base}?${query}` : base;
}

/** A message's public id as it may appear in a URL; anything else is a 404 without asking the store. */
export function isMessageId(raw: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(raw);
}
