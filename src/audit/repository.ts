import { and, count, desc, eq, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { likePattern } from '../db/like.js';
import { auditLog, users } from '../db/schema.js';

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

type Tx = Pick<Db, 'insert'>;

/** For use inside a transaction that also makes the change, so the change and its record land together. */
export function insertAuditEntry(tx: Tx, actor: Actor, entry: AuditEntry, at = new Date()): void {
  tx.insert(auditLog)
    .values({
      at,
      userId: actor.userId,
      actor: actor.name,
      ip: actor.ip,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId === undefined ? null : String(entry.targetId),
      summary: entry.summary ?? '',
      changes: entry.changes && Object.keys(entry.changes).length ? JSON.stringify(entry.changes) : null,
    })
    .run();
}

export interface AuditQuery {
  userId?: number;
  action?: string;
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

export function createAuditRepository(db: Db) {
  return {
    async record(actor: Actor, entry: AuditEntry): Promise<void> {
      insertAuditEntry(db, actor, entry);
    },

    async list(query: AuditQuery = {}): Promise<{ rows: AuditListItem[]; total: number; page: number; perPage: number; pages: number }> {
      const perPage = query.perPage ?? 50;
      const conditions: SQL[] = [];
      if (query.userId !== undefined) conditions.push(eq(auditLog.userId, query.userId));
      if (query.action) conditions.push(eq(auditLog.action, query.action));
      if (query.text) {
        const pattern = likePattern(query.text);
        conditions.push(
          or(
            sql`${auditLog.summary} LIKE ${pattern} ESCAPE '\\'`,
            sql`${auditLog.actor} LIKE ${pattern} ESCAPE '\\'`,
            sql`${auditLog.changes} LIKE ${pattern} ESCAPE '\\'`,
          ) as SQL,
        );
      }
      const where = conditions.length ? and(...conditions) : undefined;
      const total = db.select({ n: count() }).from(auditLog).where(where).get()?.n ?? 0;
      const pages = Math.max(1, Math.ceil(total / perPage));
      const page = Math.min(Math.max(1, query.page ?? 1), pages);
      const rows = db
        .select({
          id: auditLog.id,
          at: auditLog.at,
          userId: auditLog.userId,
          actor: auditLog.actor,
          userEmail: users.email,
          ip: auditLog.ip,
          action: auditLog.action,
          targetType: auditLog.targetType,
          targetId: auditLog.targetId,
          summary: auditLog.summary,
          changes: auditLog.changes,
        })
        .from(auditLog)
        .leftJoin(users, eq(users.id, auditLog.userId))
        .where(where)
        .orderBy(desc(auditLog.at), desc(auditLog.id))
        .limit(perPage)
        .offset((page - 1) * perPage)
        .all()
        .map((row) => ({ ...row, changes: row.changes ? (JSON.parse(row.changes) as FieldChanges) : null }));
      return { rows, total, page, perPage, pages };
    },

    async distinctActions(): Promise<string[]> {
      return db
        .selectDistinct({ action: auditLog.action })
        .from(auditLog)
        .orderBy(auditLog.action)
        .all()
        .map((r) => r.action);
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
