import { and, desc, eq, lt, ne, or, sql } from 'drizzle-orm';
import type { SessionStore } from '../../auth/store.js';
import { sessionWithUserColumns } from '../account-columns.js';
import { sessions, users } from './schema.js';
import type { PgExecutor } from './stores.js';

export function createPostgresSessionStore(db: PgExecutor): SessionStore {
  // Every request of a signed-in user starts here: built once and prepared by name (parsed once per connection).
  let lookupStatement: ReturnType<typeof prepareLookup> | undefined;
  function prepareLookup() {
    return db
      .select(sessionWithUserColumns(sessions, users))
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.idHash, sql.placeholder('idHash')))
      .prepare('relais_session_lookup');
  }
  return {
    async insert(row) {
      await db.insert(sessions).values(row);
    },
    async lookup(idHash) {
      const [row] = await (lookupStatement ??= prepareLookup()).execute({ idHash });
      return row ?? null;
    },
    async ofUser(userId) {
      return db.select().from(sessions).where(eq(sessions.userId, userId)).orderBy(desc(sessions.createdAt));
    },
    async touch(idHash, at) {
      await db.update(sessions).set({ lastSeenAt: at }).where(eq(sessions.idHash, idHash));
    },
    async delete(idHash) {
      await db.delete(sessions).where(eq(sessions.idHash, idHash));
    },
    async deleteOfUser(userId, exceptIdHash) {
      const where = exceptIdHash ? and(eq(sessions.userId, userId), ne(sessions.idHash, exceptIdHash)) : eq(sessions.userId, userId);
      return (await db.delete(sessions).where(where).returning({ idHash: sessions.idHash })).length;
    },
    async deleteEnded(limits) {
      const deleted = await db
        .delete(sessions)
        .where(or(lt(sessions.expiresAt, limits.expiresBefore), lt(sessions.createdAt, limits.createdBefore), lt(sessions.lastSeenAt, limits.lastSeenBefore)))
        .returning({ idHash: sessions.idHash });
      return deleted.length;
    },
  };
}
