/** Who did something, from where. userId is null for anonymous actions (a failed login, a confirmation link). */
export interface Actor {
  userId: number | null;
  name: string;
  ip: string | null;
}

export const systemActor: Actor = { userId: null, name: 'system', ip: null };

/** Old → new per field. Secrets are recorded as a marker, never their value. */
export type FieldChanges = Record<string, [unknown, unknown]>;

export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string | number;
  summary?: string;
  changes?: FieldChanges;
}

export interface AuditQuery {
  userId?: number;
  action?: string;
  /** Found in the summary, the actor or the changes, ignoring case. */
  text?: string;
  page?: number;
  perPage?: number;
}

export interface AuditListItem {
  id: number;
  at: Date;
  userId: number | null;
  actor: string;
  userEmail: string | null;
  ip: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  summary: string;
  changes: FieldChanges | null;
}

export interface AuditPage {
  rows: AuditListItem[];
  total: number;
  page: number;
  perPage: number;
  pages: number;
}

/** The audit trail, newest first. Inside `stores.transaction`, an entry lands with the change it records or not at all. */
export interface AuditStore {
  append(actor: Actor, entry: AuditEntry, at?: Date): Promise<void>;
  list(query?: AuditQuery): Promise<AuditPage>;
  distinctActions(): Promise<string[]>;
}

/** The row an entry becomes, the same on every store. */
export function auditRowOf(actor: Actor, entry: AuditEntry, at: Date) {
  return {
    at,
    userId: actor.userId,
    actor: actor.name,
    ip: actor.ip,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId === undefined ? null : String(entry.targetId),
    summary: entry.summary ?? '',
    changes: entry.changes && Object.keys(entry.changes).length ? JSON.stringify(entry.changes) : null,
  };
}

export function pageOf(query: AuditQuery, total: number) {
  const perPage = query.perPage ?? 50;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const page = Math.min(Math.max(1, query.page ?? 1), pages);
  return { perPage, pages, page, offset: (page - 1) * perPage };
}

export const parseChanges = (changes: string | null): FieldChanges | null => (changes ? (JSON.parse(changes) as FieldChanges) : null);
