import { and, count, countDistinct, desc, eq, lt, max, sql } from 'drizzle-orm';
import type { AttemptFilter, ThrottleStore } from '../../auth/store.js';
import { attemptsMatching } from '../account-columns.js';
import { loginAttempts } from './schema.js';
import type { PgExecutor } from './stores.js';

// Advisory lock classes (pg_advisory_xact_lock(class, key)): one for accounts, one for addresses.
const accountLock = 0x52454c45;
const addressLock = 0x52454c49;

const matching = (filter: AttemptFilter, success: boolean, after: Date) => attemptsMatching(loginAttempts, filter, success, after);

export function createPostgresThrottleStore(db: PgExecutor): ThrottleStore {
  return {
    async lock(email, ip) {
      // Always the account before the address, so two reservations never wait for each other in a circle.
      await db.execute(sql`select pg_advisory_xact_lock(${accountLock}, hashtext(${email})), pg_advisory_xact_lock(${addressLock}, hashtext(${ip}))`);
    },
    async lastSuccessAt(filter, after) {
      const [row] = await db.select({ at: loginAttempts.at }).from(loginAttempts).where(matching(filter, true, after)).orderBy(desc(loginAttempts.at)).limit(1);
      return row?.at ?? null;
    },
    async failureTimes(filter, after, page) {
      const rows = await db
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(matching(filter, false, after))
        .orderBy(desc(loginAttempts.at))
        .limit(page.limit)
        .offset(page.offset ?? 0);
      return rows.map((r) => r.at);
    },
    async failureCount(filter, after) {
      const [row] = await db.select({ n: count(), last: max(loginAttempts.at) }).from(loginAttempts).where(matching(filter, false, after));
      return { count: row?.n ?? 0, last: row?.last ?? null };
    },
    async failingAddressCount(email, after) {
      const [row] = await db.select({ n: countDistinct(loginAttempts.ip) }).from(loginAttempts).where(matching({ email }, false, after));
      return row?.n ?? 0;
    },
    async insertFailure(email, ip, at) {
      const [row] = await db.insert(loginAttempts).values({ email, ip, at, success: false }).returning({ id: loginAttempts.id });
      return row!.id;
    },
    async markSucceeded(id) {
      await db.update(loginAttempts).set({ success: true }).where(eq(loginAttempts.id, id));
    },
    async delete(id) {
      await db.delete(loginAttempts).where(eq(loginAttempts.id, id));
    },
    async deleteBefore(at, success) {
      return (await db.delete(loginAttempts).where(and(lt(loginAttempts.at, at), eq(loginAttempts.success, success))).returning({ id: loginAttempts.id })).length;
    },
  };
}
