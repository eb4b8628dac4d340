import { and, eq, gt, type Column, type SQL } from 'drizzle-orm';
import type { AttemptFilter } from '../auth/store.js';

// The accounts' selections, written once for both dialects' tables (src/db/sqlite/, src/db/postgres/).

interface UserColumns {
  id: Column;
  email: Column;
  displayName: Column;
  role: Column;
  disabled: Column;
  createdAt: Column;
  updatedAt: Column;
}

/** A user without the password hash. */
export function userViewColumns<T extends UserColumns>(users: T): Pick<T, keyof UserColumns> {
  const { id, email, displayName, role, disabled, createdAt, updatedAt } = users;
  return { id, email, displayName, role, disabled, createdAt, updatedAt };
}

interface SessionColumns {
  idHash: Column;
  userId: Column;
  createdAt: Column;
  lastSeenAt: Column;
  expiresAt: Column;
  ip: Column;
  userAgent: Column;
}

/** A session and its user, joined. */
export function sessionWithUserColumns<S extends SessionColumns, U extends UserColumns>(
  sessions: S,
  users: U,
): Pick<S, keyof SessionColumns> & { user: Pick<U, 'id' | 'email' | 'displayName' | 'role' | 'disabled'> } {
  const { idHash, userId, createdAt, lastSeenAt, expiresAt, ip, userAgent } = sessions;
  const { id, email, displayName, role, disabled } = users;
  return { idHash, userId, createdAt, lastSeenAt, expiresAt, ip, userAgent, user: { id, email, displayName, role, disabled } };
}

/** Attempts of this account and/or address, successes or failures, after a time. */
export function attemptsMatching(attempts: { email: Column; ip: Column; success: Column; at: Column }, filter: AttemptFilter, success: boolean, after: Date): SQL | undefined {
  return and(
    filter.email === undefined ? undefined : eq(attempts.email, filter.email),
    filter.ip === undefined ? undefined : eq(attempts.ip, filter.ip),
    eq(attempts.success, success),
    gt(attempts.at, after),
  );
}
