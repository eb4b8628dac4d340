import type { RelaisConfig } from '../config.js';
import type { Stores } from '../db/stores.js';
import type { ThrottleStore } from './store.js';

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
 * slow password check, in one transaction that locks the account and the address, reads the counts and inserts the
 * attempt as a failure; only a verified password turns it into a success. Concurrent guesses therefore see each other,
 * whichever process or instance runs them: the database, not memory, holds the count.
 *
 * An address that has not failed on an account is never slowed by that account's delay, so guesses from elsewhere
 * cannot keep its owner out; it is still bound by the per-address ceiling.
 */
export function createLoginThrottle(stores: Stores, policy: ThrottlePolicy = defaultThrottlePolicy) {
  async function verdict(attempts: ThrottleStore, email: string, ip: string, now: number): Promise<{ retryAfterMs: number; reason: ThrottleReason } | null> {
    const since = new Date(now - policy.windowMs);
    const lastSuccessAt = async (filter: { email: string; ip?: string }) => (await attempts.lastSuccessAt(filter, since)) ?? since;

    // The address's ceiling: the failure that must age out is the ceiling-th newest.
    const [addressPivot] = await attempts.failureTimes({ ip }, since, { limit: 1, offset: policy.addressMaxFailures - 1 });
    if (addressPivot) return { retryAfterMs: addressPivot.getTime() + policy.windowMs - now, reason: 'address' };

    const pair = { email, ip };
    const pairFailures = await attempts.failureTimes(pair, await lastSuccessAt(pair), { limit: policy.pairMaxFailures });
    if (pairFailures.length >= policy.pairMaxFailures) {
      const pivot = pairFailures[policy.pairMaxFailures - 1]!;
      return { retryAfterMs: pivot.getTime() + policy.windowMs - now, reason: 'pair' };
    }
    if (pairFailures.length === 0) return null;

    const failures = await attempts.failureCount({ email }, await lastSuccessAt({ email }));
    const delay = accountDelayMs(failures.count, policy);
    const wait = delay > 0 && failures.last ? failures.last.getTime() + delay - now : 0;
    return wait > 0 ? { retryAfterMs: wait, reason: 'account' } : null;
  }

  return {
    policy,

    /** Either the attempt's id (counted as a failure until `succeeded`), or how long to wait and why. */
    async reserve(email: string, ip: string, now = new Date()): Promise<Reservation> {
      const account = email.slice(0, 320);
      return stores.transaction(async (tx) => {
        await tx.throttle.lock(account, ip);
        const refused = await verdict(tx.throttle, account, ip, now.getTime());
        if (refused) return { reserved: false, ...refused };
        return { reserved: true, attemptId: await tx.throttle.insertFailure(account, ip, now) };
      });
    },

    succeeded: (attemptId: number): Promise<void> => stores.throttle.markSucceeded(attemptId),

    /** The password was never checked (the hashing queue was full): the attempt did not happen. */
    cancel: (attemptId: number): Promise<void> => stores.throttle.delete(attemptId),

    /** Attempts older than a day matter to nobody (the audit trail keeps the history). */
    purge: (now = new Date()): Promise<number> => stores.throttle.deleteBefore(new Date(now.getTime() - 24 * 3600_000)),
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
