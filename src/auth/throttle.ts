import { and, asc, desc, eq, gt, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { loginAttempts } from '../db/schema.js';

export interface ThrottlePolicy {
  maxFailures: number;
  windowMs: number;
}

export const loginThrottlePolicy: ThrottlePolicy = { maxFailures: 5, windowMs: 15 * 60_000 };

export type ThrottleVerdict = { blocked: false } | { blocked: true; retryAfterMs: number };

/**
 * Sign-in attempts per account and per address. After `maxFailures` failures within the window, further tries are
 * refused until enough of them have aged out. A success clears the account's count, not the address's.
 */
export function createLoginThrottle(db: Db, policy: ThrottlePolicy = loginThrottlePolicy) {
  function waitFor(failures: Date[], now: number): number {
    if (failures.length < policy.maxFailures) return 0;
    // Oldest first: the count drops below the limit when the failure at (count - max) leaves the window.
    const pivot = failures[failures.length - policy.maxFailures]!;
    return Math.max(0, pivot.getTime() + policy.windowMs - now);
  }

  return {
    policy,

    async check(email: string, ip: string, now = new Date()): Promise<ThrottleVerdict> {
      const since = new Date(now.getTime() - policy.windowMs);
      const lastSuccess = db
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.email, email), eq(loginAttempts.success, true), gt(loginAttempts.at, since)))
        .orderBy(desc(loginAttempts.at))
        .get();
      const accountSince = lastSuccess?.at ?? since;
      const byAccount = db
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.email, email), eq(loginAttempts.success, false), gt(loginAttempts.at, accountSince)))
        .orderBy(asc(loginAttempts.at))
        .all()
        .map((r) => r.at);
      const byAddress = db
        .select({ at: loginAttempts.at })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.ip, ip), eq(loginAttempts.success, false), gt(loginAttempts.at, since)))
        .orderBy(asc(loginAttempts.at))
        .all()
        .map((r) => r.at);
      const wait = Math.max(waitFor(byAccount, now.getTime()), waitFor(byAddress, now.getTime()));
      return wait > 0 ? { blocked: true, retryAfterMs: wait } : { blocked: false };
    },

    async record(email: string, ip: string, success: boolean, now = new Date()): Promise<void> {
      db.insert(loginAttempts).values({ email: email.slice(0, 320), ip, at: now, success }).run();
    },

    /** Attempts older than a day matter to nobody (the audit trail keeps the history). */
    async purge(now = new Date()): Promise<number> {
      return db.delete(loginAttempts).where(lt(loginAttempts.at, new Date(now.getTime() - 24 * 3600_000))).run().changes;
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
