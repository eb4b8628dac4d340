import { and, count, countDistinct, desc, eq, lt, max } from 'drizzle-orm';
import type { AttemptFilter, ThrottleStore } from '../../auth/store.js';
import { attemptsMatching } from '../account-columns.js';
import type { Db } from './client.js';
import { loginAttempts } from './schema.js';
import type { WriteLock } from './write-lock.js';

const matching = (filter: AttemptFilter, success: boolean, after: Date) => attemptsMatching(loginAttempts, filter, success, after);

export function createSqliteThrottleStore(db: Db, lock: WriteLock): ThrottleStore {
  return {
    // The transaction's BEGIN IMMEDIATE already keeps every other writer, in any process, waiting.
    async lock() {},
    async lastSuccessAt(filter, after) {
      return db.select({ at: loginAttempts.at }).from(loginAttempts).where(matching(filter, true, after)).orderBy(desc(loginAttempts.at)).get()?.at ?? null;
    },
    async failureTimes(filter, after, page) {
      return db
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(matching(filter, false, after))
        .orderBy(desc(loginAttempts.at))
        .limit(page.limit)
        .offset(page.offset ?? 0)
        .all()
        .map((r) => r.at);
    },
    async failureCount(filter, after) {
      const row = db.select({ n: count(), last: max(loginAttempts.at) }).from(loginAttempts).where(matching(filter, false, after)).get();
      return { count: row?.n ?? 0, last: row?.last ?? null };
    },
    async failingAddressCount(email, after) {
      return db.select({ n: countDistinct(loginAttempts.ip) }).from(loginAttempts).where(matching({ email }, false, after)).get()?.n ?? 0;
    },
    insertFailure(email, ip, at) {
      return lock.run(() => db.insert(loginAttempts).values({ email, ip, at, success: false }).returning({ id: loginAttempts.id }).get().id);
    },
    markSucceeded(id) {
      return lock.run(() => {
        db.update(loginAttempts).set({ success: true }).where(eq(loginAttempts.id, id)).run();
      });
    },
    delete(id) {
      return lock.run(() => {
        db.delete(loginAttempts).where(eq(loginAttempts.id, id)).run();
      });
    },
    deleteBefore(at, success) {
      return lock.run(() => db.delete(loginAttempts).where(and(lt(loginAttempts.at, at), eq(loginAttempts.success, success))).run().changes);
    },
  };
}
