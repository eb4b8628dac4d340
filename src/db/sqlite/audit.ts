import { and, count, desc, eq, or, sql, type SQL } from 'drizzle-orm';
import { auditRowOf, pageOf, parseChanges, type AuditStore } from '../../audit/store.js';
import type { Db } from './client.js';
import { likePattern } from '../like.js';
import { auditLog, users } from './schema.js';
import type { WriteLock } from './write-lock.js';

export function createSqliteAuditStore(db: Db, lock: WriteLock): AuditStore {
  return {
    async append(actor, entry, at = new Date()) {
      await lock.run(() => db.insert(auditLog).values(auditRowOf(actor, entry, at)).run());
    },

    async list(query = {}) {
      const conditions: SQL[] = [];
      if (query.userId !== undefined) conditions.push(eq(auditLog.userId, query.userId));
      if (query.action) conditions.push(eq(auditLog.action, query.action));
      if (query.text) {
        // SQLite's LIKE ignores the case of ASCII letters.
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
      const { perPage, pages, page, offset } = pageOf(query, total);
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
        .offset(offset)
        .all()
        .map((row) => ({ ...row, changes: parseChanges(row.changes) }));
      return { rows, total, page, perPage, pages };
    },

    async distinctActions() {
      return db
        .selectDistinct({ action: auditLog.action })
        .from(auditLog)
        .orderBy(auditLog.action)
        .all()
        .map((r) => r.action);
    },
  };
}
