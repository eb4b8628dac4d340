import { isIPv4 } from 'node:net';
import type { RelaisConfig } from '../config.js';
import type { Stores } from '../db/stores.js';
import { ipv6Bytes } from '../smtp/destination.js';
import type { ThrottleStore } from './store.js';
import { normalizeEmail } from './users.js';

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
  /** Addresses that may fail on one account within the window and still be spared its delay while they are fresh. */
  accountFreshAddresses: number;
  /** An address that signed in to an account within this time is always spared that account's delay. */
  trustedForMs: number;
}

/** Longest account name kept: an address is at most 320 characters (RFC 5321's 64 + @ + 255). */
const accountLength = 320;

/** The account an attempt names, normalised and cut once, for storing and for counting alike. */
export function accountKey(email: string): string {
  const normalized = normalizeEmail(email);
  if (normalized.length <= accountLength) return normalized;
  // Cut between code points, so a character outside the BMP is never split into half a surrogate pair.
  let cut = '';
  for (const char of normalized) {
    if (cut.length + char.length > accountLength) break;
    cut += char;
  }
  return cut;
}

/**
 * Where an attempt comes from, as the throttle counts it: an IPv4 address (also when written inside IPv6), or an
 * IPv6 address's /64, as one host commonly holds a whole /64 and picks a fresh address within it at will.
 */
export function addressKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  const bytes = ipv6Bytes(ip);
  if (!bytes) return ip.slice(0, 64);
  // An IPv4-mapped address (::ffff:192.0.2.1, what a dual-stack socket reports) is that IPv4 host.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return bytes.slice(12).join('.');
  const groups = Array.from({ length: 4 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return `${groups.join(':')}::/64`;
}

export const defaultThrottlePolicy: ThrottlePolicy = {
  windowMs: 15 * 60_000,
  pairMaxFailures: 5,
  accountFreeFailures: 5,
  accountMaxDelayMs: 15 * 60_000,
  addressMaxFailures: 100,
  accountFreshAddresses: 3,
  trustedForMs: 30 * 24 * 3600_000,
};

export function throttlePolicyFrom(config: RelaisConfig['loginThrottle']): ThrottlePolicy {
  return {
    windowMs: config.windowMinutes * 60_000,
    pairMaxFailures: config.pairMaxFailures,
    accountFreeFailures: config.accountFreeFailures,
    accountMaxDelayMs: config.accountMaxDelaySeconds * 1000,
    addressMaxFailures: config.addressMaxFailures,
    accountFreshAddresses: config.accountFreshAddresses,
    trustedForMs: config.trustedDays * 24 * 3600_000,
  };
}

export type ThrottleReason = 'pair' | 'account' | 'address';

/**
 * A reserved attempt is `trusted` when it is unlikely to be an attack (its address signed in to this account lately,
 * or has not failed anywhere within the window): the hashing queue keeps room for those.
 */
export type Reservation = { reserved: true; attemptId: number; trusted: boolean } | { reserved: false; retryAfterMs: number; reason: ThrottleReason };

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
 * Addresses are counted by `addressKey` (an IPv6 host by its /64). A fresh address (no failure on this account) is
 * spared the account's delay only while few addresses have failed on it; past that, every address waits, except one
 * that signed in to this account lately: guesses from elsewhere can slow a newcomer but never keep the owner out.
 */
export function createLoginThrottle(stores: Stores, policy: ThrottlePolicy = defaultThrottlePolicy) {
  type Verdict = { refused: { retryAfterMs: number; reason: ThrottleReason } } | { refused: null; trusted: boolean };

  async function verdict(attempts: ThrottleStore, email: string, ip: string, now: number): Promise<Verdict> {
    const since = new Date(now - policy.windowMs);
    const lastSuccessAt = async (filter: { email: string; ip?: string }) => (await attempts.lastSuccessAt(filter, since)) ?? since;

    // The address's ceiling: the failure that must age out is the ceiling-th newest.
    const [addressPivot] = await attempts.failureTimes({ ip }, since, { limit: 1, offset: policy.addressMaxFailures - 1 });
    if (addressPivot) return { refused: { retryAfterMs: addressPivot.getTime() + policy.windowMs - now, reason: 'address' } };

    const pair = { email, ip };
    const pairFailures = await attempts.failureTimes(pair, await lastSuccessAt(pair), { limit: policy.pairMaxFailures });
    if (pairFailures.length >= policy.pairMaxFailures) {
      const pivot = pairFailures[policy.pairMaxFailures - 1]!;
      return { refused: { retryAfterMs: pivot.getTime() + policy.windowMs - now, reason: 'pair' } };
    }
    if (await attempts.lastSuccessAt(pair, new Date(now - policy.trustedForMs))) return { refused: null, trusted: true };

    const crowded = (await attempts.failingAddressCount(email, since)) >= policy.accountFreshAddresses;
    const fresh = pairFailures.length === 0 && !crowded;
    const trusted = fresh && (await attempts.failureCount({ ip }, since)).count === 0;
    if (fresh) return { refused: null, trusted };

    const failures = await attempts.failureCount({ email }, await lastSuccessAt({ email }));
    const delay = accountDelayMs(failures.count, policy);
    const wait = delay > 0 && failures.last ? failures.last.getTime() + delay - now : 0;
    return wait > 0 ? { refused: { retryAfterMs: wait, reason: 'account' } } : { refused: null, trusted: false };
  }

  return {
    policy,

    /** Either the attempt's id (counted as a failure until `succeeded`), or how long to wait and why. */
    async reserve(email: string, ip: string, now = new Date()): Promise<Reservation> {
      const account = accountKey(email);
      const address = addressKey(ip);
      return stores.transaction(async (tx) => {
        await tx.throttle.lock(account, address);
        const outcome = await verdict(tx.throttle, account, address, now.getTime());
        if (outcome.refused) return { reserved: false, ...outcome.refused };
        return { reserved: true, attemptId: await tx.throttle.insertFailure(account, address, now), trusted: outcome.trusted };
      });
    },

    succeeded: (attemptId: number): Promise<void> => stores.throttle.markSucceeded(attemptId),

    /** The password was never checked (the hashing queue was full): the attempt did not happen. */
    cancel: (attemptId: number): Promise<void> => stores.throttle.delete(attemptId),

    /** Failures older than a day matter to nobody (the audit trail keeps the history); successes are kept while they vouch for an address. */
    purge: async (now = new Date()): Promise<number> =>
      (await stores.throttle.deleteBefore(new Date(now.getTime() - 24 * 3600_000), false)) +
      (await stores.throttle.deleteBefore(new Date(now.getTime() - Math.max(policy.trustedForMs, 24 * 3600_000)), true)),
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
