// The accounts aggregate (users, their sessions, the first start's setup link, the login throttle) as the stores see it:
// plain rows in and out, one implementation per database (src/db/sqlite/, src/db/postgres/). The rules are in the
// services next to this file (users.ts, sessions.ts, setup.ts, throttle.ts).

export type Role = 'admin' | 'viewer';
export const roles: readonly Role[] = ['admin', 'viewer'];

/** A user as pages see it: never the password hash. */
export interface UserView {
  id: number;
  email: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserWithHash extends UserView {
  passwordHash: string;
}

export interface NewUserRow {
  email: string;
  displayName: string;
  role: Role;
  passwordHash: string;
}

export interface UserFields {
  email: string;
  displayName: string;
  role: Role;
  disabled: boolean;
}

/** Thrown by the stores when the email (already normalised) belongs to another account. */
export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`An account already uses ${email}`);
  }
}

export interface UserStore {
  count(): Promise<number>;
  /** By display name ignoring case, then by id. */
  list(): Promise<UserView[]>;
  find(id: number): Promise<UserView | null>;
  findByEmail(email: string): Promise<UserView | null>;
  findWithHash(email: string): Promise<UserWithHash | null>;
  passwordHashOf(id: number): Promise<string | null>;
  /** Throws DuplicateEmailError. */
  insert(row: NewUserRow, at: Date): Promise<UserView>;
  /** null when the user does not exist; throws DuplicateEmailError. */
  update(id: number, fields: UserFields, at: Date): Promise<UserView | null>;
  /** With `ifHashIs`, only while the stored hash is still that one (an upgrade must not undo a concurrent change). */
  setPasswordHash(id: number, passwordHash: string, options?: { at?: Date; ifHashIs?: string }): Promise<boolean>;
  /** Inside a transaction, the active administrators stay so until it ends (PostgreSQL locks their rows). */
  lockActiveAdminIds(): Promise<number[]>;
  /**
   * Inside a transaction: until it ends, no other transaction, from any instance, passes this point (creating the first
   * account or issuing a setup link). SQLite's IMMEDIATE transaction already holds the database's write lock.
   */
  lockFirstAccount(): Promise<void>;
}

export interface SessionRow {
  /** SHA-256 of the cookie value. */
  idHash: string;
  userId: number;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

export interface SessionWithUser extends SessionRow {
  user: Pick<UserView, 'id' | 'email' | 'displayName' | 'role' | 'disabled'>;
}

export interface SessionStore {
  insert(row: SessionRow): Promise<void>;
  /** Read on every request: the session and its user. */
  lookup(idHash: string): Promise<SessionWithUser | null>;
  /** Newest first. */
  ofUser(userId: number): Promise<SessionRow[]>;
  touch(idHash: string, at: Date): Promise<void>;
  delete(idHash: string): Promise<void>;
  deleteOfUser(userId: number, exceptIdHash?: string): Promise<number>;
  /** Deletes the sessions that ended by any of these limits. */
  deleteEnded(limits: { expiresBefore: Date; createdBefore: Date; lastSeenBefore: Date }): Promise<number>;
}

export interface SetupTokenStore {
  insert(tokenHash: string, at: Date): Promise<void>;
  deleteUnused(): Promise<void>;
  isUnused(tokenHash: string): Promise<boolean>;
  /** Links issued and not used yet (at most one once a start has run). */
  countUnused(): Promise<number>;
  /** Marks the token used; true for the one caller that did (one statement, so a token is used once). */
  use(tokenHash: string, at: Date): Promise<boolean>;
}

/** Which attempts a count is about: one account, one address, or the pair. */
export interface AttemptFilter {
  email?: string;
  ip?: string;
}

export interface ThrottleStore {
  /**
   * Inside a transaction: until it ends, other reservations on this account or this address wait (PostgreSQL: advisory
   * locks, so instances sharing the database see each other; SQLite: the transaction holds the write lock).
   */
  lock(email: string, ip: string): Promise<void>;
  /** The latest success after `after`, or null. */
  lastSuccessAt(filter: AttemptFilter, after: Date): Promise<Date | null>;
  /** Times of failures after `after`, newest first. */
  failureTimes(filter: AttemptFilter, after: Date, page: { limit: number; offset?: number }): Promise<Date[]>;
  failureCount(filter: AttemptFilter, after: Date): Promise<{ count: number; last: Date | null }>;
  /** How many different addresses have failed on this account after `after`. */
  failingAddressCount(email: string, after: Date): Promise<number>;
  /** An attempt counted as a failure until `markSucceeded`; its id. */
  insertFailure(email: string, ip: string, at: Date): Promise<number>;
  markSucceeded(id: number): Promise<void>;
  delete(id: number): Promise<void>;
  /** Deletes the failures (or the successes) older than `at`; how many. */
  deleteBefore(at: Date, success: boolean): Promise<number>;
}
