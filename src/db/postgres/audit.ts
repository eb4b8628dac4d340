import { and, count, desc, eq, ilike, or, type SQL } from 'drizzle-orm';
import { auditRowOf, pageOf, parseChanges, type AuditStore } from '../../audit/store.js';
import { likePattern } from '../like.js';
import type { PgExecutor } from './stores.js';
import { auditLog, users } from './schema.js';

export function createPostgresAuditStore(db: PgExecutor): AuditStore {
  return {
    async append(actor, entry, at = new Date()) {
      await db.insert(auditLog).values(auditRowOf(actor, entry, at));
    },

    async list(query = {}) {
      const conditions: SQL[] = [];
      if (query.userId !== undefined) conditions.push(eq(auditLog.userId, query.userId));
      if (query.action) conditions.push(eq(auditLog.action, query.action));
      if (query.text) {
        const pattern = likePattern(query.text);
        conditions.push(or(ilike(auditLog.summary, pattern), ilike(auditLog.actor, pattern), ilike(auditLog.changes, pattern)) as SQL);
      }
      const where = conditions.length ? and(...conditions) : undefined;
      const [counted] = await db.select({ n: count() }).from(auditLog).where(where);
      const total = counted?.n ?? 0;
      const { perPage, pages, page, offset } = pageOf(query, total);
      const rows = await db
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
        .offset(offset);
      return { rows: rows.map((row) => ({ ...row, changes: parseChanges(row.changes) })), total, page, perPage, pages };
    },

    async distinctActions() {
      const rows = await db.selectDistinct({ action: auditLog.action }).from(auditLog).orderBy(auditLog.action);
      return rows.map((r) => r.action);
    },
  };
}
