import { and, count, desc, eq, gt, lt, max, type SQL } from 'drizzle-orm';
import type { RelaisConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { loginAttempts } from '../db/schema.js';

export interface ThrottlePolicy {
  windowMs: number;
  /** Failures one address may make on one account within the window; then that pair waits for them to age out. */
  pairMaxFailures: number;
  /** Failures an account takes (from every address, since its last success) before each further try waits. */
  accountFreeFailures: number;
  /** The wait after the account's last failure starts at 1 s and doubles with each failure, up to this. */
  accountMaxDelayMs: number;
  /** Failures from one address over all accounts within the window: generous, many people share a NAT or proxy. */
  addressMaxFailures: number;
}

export const defaultThrottlePolicy: ThrottlePolicy = {
  windowMs: 15 * 60_000,
  pairMaxFailures: 5,
  accountFreeFailures: 5,
  accountMaxDelayMs: 15 * 60_000,
  addressMaxFailures: 100,
};

export function throttlePolicyFrom(config: RelaisConfig['loginThrottle']): ThrottlePolicy {
  return {
    windowMs: config.windowMinutes * 60_000,
    pairMaxFailures: config.pairMaxFailures,
    accountFreeFailures: config.accountFreeFailures,
    accountMaxDelayMs: config.accountMaxDelaySeconds * 1000,
    addressMaxFailures: config.addressMaxFailures,
  };
}

export type ThrottleReason = 'pair' | 'account' | 'address';

export type Reservation = { reserved: true; attemptId: number } | { reserved: false; retryAfterMs: number; reason: ThrottleReason };

/** The growing wait of an account that has taken `failures` failures since its last success. */
export function accountDelayMs(failures: number, policy: ThrottlePolicy): number {
  if (failures < policy.accountFreeFailures) return 0;
  const doublings = Math.min(failures - policy.accountFreeFailures, 40);
  return Math.min(1000 * 2 ** doublings, policy.accountMaxDelayMs);
}

/**
 * Sign-in attempts (and guesses of the current password) per account and address. An attempt is reserved before the
 * slow password check, in one write transaction that reads the counts and inserts the attempt as a failure; only a
 * verified password turns it into a success. Concurrent guesses therefore see each other, whichever process or
 * instance runs them: the database, not memory, holds the count (on PostgreSQL the same transaction takes an advisory
 * lock on the account and the address first).
 *
 * An address that has not failed on an account is never slowed by that account's delay, so guesses from elsewhere
 * cannot keep its owner out; it is still bound by the per-address ceiling.
 */
export function createLoginThrottle(db: Db, policy: ThrottlePolicy = defaultThrottlePolicy) {
  function verdict(tx: Pick<Db, 'select'>, email: string, ip: string, now: number): { retryAfterMs: number; reason: ThrottleReason } | null {
    const since = new Date(now - policy.windowMs);
    const lastSuccessAt = (where: SQL | undefined) =>
      tx
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(and(where, eq(loginAttempts.success, true), gt(loginAttempts.at, since)))
        .orderBy(desc(loginAttempts.at))
        .get()?.at ?? since;
    const failuresSince = (where: SQL | undefined, after: Date) =>
      tx
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(and(where, eq(loginAttempts.success, false), gt(loginAttempts.at, after)))
        .orderBy(desc(loginAttempts.at));

    // The address's ceiling: the failure that must age out is the ceiling-th newest.
    const addressPivot = failuresSince(eq(loginAttempts.ip, ip), since)
      .limit(1)
      .offset(policy.addressMaxFailures - 1)
      .get();
    if (addressPivot) return { retryAfterMs: addressPivot.at.getTime() + policy.windowMs - now, reason: 'address' };

    const pair = and(eq(loginAttempts.email, email), eq(loginAttempts.ip, ip));
    const pairFailures = failuresSince(pair, lastSuccessAt(pair)).limit(policy.pairMaxFailures).all();
    if (pairFailures.length >= policy.pairMaxFailures) {
      const pivot = pairFailures[policy.pairMaxFailures - 1]!;
      return { retryAfterMs: pivot.at.getTime() + policy.windowMs - now, reason: 'pair' };
    }
    if (pairFailures.length === 0) return null;

    const account = eq(loginAttempts.email, email);
    const failures = tx
      .select({ n: count(), last: max(loginAttempts.at) })
      .from(loginAttempts)
      .where(and(account, eq(loginAttempts.success, false), gt(loginAttempts.at, lastSuccessAt(account))))
      .get();
    const delay = accountDelayMs(failures?.n ?? 0, policy);
    const wait = delay > 0 && failures?.last ? failures.last.getTime() + delay - now : 0;
    return wait > 0 ? { retryAfterMs: wait, reason: 'account' } : null;
  }

  return {
    policy,

    /** Either the attempt's id (counted as a failure until `succeeded`), or how long to wait and why. */
    async reserve(email: string, ip: string, now = new Date()): Promise<Reservation> {
      return db.transaction(
        (tx) => {
          const refused = verdict(tx, email, ip, now.getTime());
          if (refused) return { reserved: false, ...refused };
          const row = tx
            .insert(loginAttempts)
            .values({ email: email.slice(0, 320), ip, at: now, success: false })
            .returning({ id: loginAttempts.id })
            .get();
          return { reserved: true, attemptId: row.id };
        },
        { behavior: 'immediate' },
      );
    },

    async succeeded(attemptId: number): Promise<void> {
      db.update(loginAttempts).set({ success: true }).where(eq(loginAttempts.id, attemptId)).run();
    },

    /** The password was never checked (the hashing queue was full): the attempt did not happen. */
    async cancel(attemptId: number): Promise<void> {
      db.delete(loginAttempts).where(eq(loginAttempts.id, attemptId)).run();
    },

    /** Attempts older than a day matter to nobody (the audit trail keeps the history). */
    async purge(now = new Date()): Promise<number> {
      return db.delete(loginAttempts).where(lt(loginAttempts.at, new Date(now.getTime() - 24 * 3600_000))).run().changes;
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
