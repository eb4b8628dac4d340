import { and, desc, eq, lt, ne, or, sql } from 'drizzle-orm';
import type { SessionStore } from '../../auth/store.js';
import { sessionWithUserColumns } from '../account-columns.js';
import type { Db } from './client.js';
import { sessions, users } from './schema.js';
import type { WriteLock } from './write-lock.js';

export function createSqliteSessionStore(db: Db, lock: WriteLock): SessionStore {
  // Read on every request: prepared once (building the query each time cost ~20× the lookup itself).
  const lookup = db
    .select(sessionWithUserColumns(sessions, users))
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.idHash, sql.placeholder('idHash')))
    .prepare();

  return {
    insert(row) {
      return lock.run(() => {
        db.insert(sessions).values(row).run();
      });
    },
    async lookup(idHash) {
      return lookup.get({ idHash }) ?? null;
    },
    async ofUser(userId) {
      return db.select().from(sessions).where(eq(sessions.userId, userId)).orderBy(desc(sessions.createdAt)).all();
    },
    touch(idHash, at) {
      return lock.run(() => {
        db.update(sessions).set({ lastSeenAt: at }).where(eq(sessions.idHash, idHash)).run();
      });
    },
    delete(idHash) {
      return lock.run(() => {
        db.delete(sessions).where(eq(sessions.idHash, idHash)).run();
      });
    },
    deleteOfUser(userId, exceptIdHash) {
      const where = exceptIdHash ? and(eq(sessions.userId, userId), ne(sessions.idHash, exceptIdHash)) : eq(sessions.userId, userId);
      return lock.run(() => db.delete(sessions).where(where).run().changes);
    },
    deleteEnded(limits) {
      return lock.run(
        () =>
          db
            .delete(sessions)
            .where(or(lt(sessions.expiresAt, limits.expiresBefore), lt(sessions.createdAt, limits.createdBefore), lt(sessions.lastSeenAt, limits.lastSeenBefore)))
            .run().changes,
      );
    },
  };
}
