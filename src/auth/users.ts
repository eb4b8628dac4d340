import { and, asc, count, eq, isNull, ne, sql } from 'drizzle-orm';
import { insertAuditEntry, type Actor, type FieldChanges } from '../audit/repository.js';
import type { Db } from '../db/client.js';
import { sessions, setupTokens, users, type UserRow } from '../db/schema.js';
import type { PasswordHasher } from './password.js';
import { hashToken } from './tokens.js';

export type Role = 'admin' | 'viewer';
export const roles: readonly Role[] = ['admin', 'viewer'];

/** A user as pages see it: never the password hash. */
export type UserView = Omit<UserRow, 'passwordHash'>;

export interface NewUser {
  email: string;
  displayName: string;
  role: Role;
  password: string;
}

export interface UserChanges {
  email: string;
  displayName: string;
  role: Role;
  disabled: boolean;
}

export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`An account already uses ${email}`);
  }
}

/** The change would leave no active administrator: nobody could manage accounts any more. */
export class LastAdminError extends Error {
  constructor() {
    super('The last active administrator cannot be disabled or demoted');
  }
}

export class SetupTokenError extends Error {
  constructor() {
    super('The setup link is unknown, already used, or an account already exists');
  }
}

export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/** The marker the audit trail shows for a secret, never its value. */
export const secretMarker = 'modifié';

const viewColumns = {
  id: users.id,
  email: users.email,
  displayName: users.displayName,
  role: users.role,
  disabled: users.disabled,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export function createUserRepository(db: Db, hasher: PasswordHasher) {
  const readUser = (tx: Pick<Db, 'select'>, id: number): UserView | null =>
    tx.select(viewColumns).from(users).where(eq(users.id, id)).get() ?? null;

  function activeAdminsOtherThan(tx: Pick<Db, 'select'>, id: number): number {
    return (
      tx
        .select({ n: count() })
        .from(users)
        .where(and(eq(users.role, 'admin'), eq(users.disabled, false), ne(users.id, id)))
        .get()?.n ?? 0
    );
  }

  function withUniqueEmail<T>(email: string, write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateEmailError(email);
      throw err;
    }
  }

  return {
    async countUsers(): Promise<number> {
      return db.select({ n: count() }).from(users).get()?.n ?? 0;
    },

    async listUsers(): Promise<UserView[]> {
      return db.select(viewColumns).from(users).orderBy(asc(sql`${users.displayName} COLLATE NOCASE`), asc(users.id)).all();
    },

    async findUser(id: number): Promise<UserView | null> {
      return readUser(db, id);
    },

    async findUserByEmail(email: string): Promise<UserView | null> {
      return db.select(viewColumns).from(users).where(eq(users.email, normalizeEmail(email))).get() ?? null;
    },

    /**
     * Creates an account. With `setupToken`, this is the first administrator made from the one-time setup link:
     * the token must be unused and no account may exist yet, checked in the same transaction.
     */
    async createUser(input: NewUser, actor: Actor, options: { setupToken?: string } = {}): Promise<UserView> {
      const email = normalizeEmail(input.email);
      const passwordHash = await hasher.hash(input.password);
      const id = withUniqueEmail(email, () =>
        db.transaction((tx) => {
          if (options.setupToken !== undefined) {
            const used = tx
              .update(setupTokens)
              .set({ usedAt: new Date() })
              .where(and(eq(setupTokens.tokenHash, hashToken(options.setupToken)), isNull(setupTokens.usedAt)))
              .run();
            const existing = tx.select({ n: count() }).from(users).get()?.n ?? 0;
            if (used.changes !== 1 || existing > 0) throw new SetupTokenError();
          }
          const row = tx
            .insert(users)
            .values({ email, displayName: input.displayName, role: input.role, passwordHash })
            .returning({ id: users.id })
            .get();
          // The first administrator, created from the setup link, is the author of their own account.
          const author = options.setupToken !== undefined && actor.userId === null ? { ...actor, userId: row.id, name: email } : actor;
          insertAuditEntry(tx, author, {
            action: 'user.create',
            targetType: 'user',
            targetId: row.id,
            summary: email,
            changes: { email: [null, email], displayName: [null, input.displayName], role: [null, input.role], password: [null, secretMarker] },
          });
          return row.id;
        }),
      );
      return readUser(db, id)!;
    },

    /** Returns null when the user no longer exists. Disabling ends the user's sessions in the same transaction. */
    async updateUser(id: number, input: UserChanges, actor: Actor): Promise<{ user: UserView; changes: FieldChanges } | null> {
      const email = normalizeEmail(input.email);
      return withUniqueEmail(email, () =>
        db.transaction((tx) => {
          const before = readUser(tx, id);
          if (!before) return null;
          const after = { email, displayName: input.displayName, role: input.role, disabled: input.disabled };
          const changes: FieldChanges = {};
          for (const key of Object.keys(after) as (keyof typeof after)[]) {
            if (before[key] !== after[key]) changes[key] = [before[key], after[key]];
          }
          if (Object.keys(changes).length === 0) return { user: before, changes };
          const wasActiveAdmin = before.role === 'admin' && !before.disabled;
          const staysActiveAdmin = after.role === 'admin' && !after.disabled;
          if (wasActiveAdmin && !staysActiveAdmin && activeAdminsOtherThan(tx, id) === 0) throw new LastAdminError();
          tx.update(users)
            .set({ ...after, updatedAt: new Date() })
            .where(eq(users.id, id))
            .run();
          if (after.disabled) tx.delete(sessions).where(eq(sessions.userId, id)).run();
          insertAuditEntry(tx, actor, { action: 'user.update', targetType: 'user', targetId: id, summary: email, changes });
          return { user: readUser(tx, id)!, changes };
        }),
      );
    },

    /**
     * Replaces a password. An administrator's reset ends every session of that user; a user changing their own
     * keeps the session they are using (`keepSessionOf`) and ends the others.
     */
    async setPassword(
      id: number,
      password: string,
      actor: Actor,
      options: { action: 'user.passwordReset' | 'user.passwordChange'; keepSessionOf?: string },
    ): Promise<UserView | null> {
      const passwordHash = await hasher.hash(password);
      return db.transaction((tx) => {
        const before = readUser(tx, id);
        if (!before) return null;
        tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id)).run();
        const keep = options.keepSessionOf;
        tx.delete(sessions)
          .where(keep ? and(eq(sessions.userId, id), ne(sessions.idHash, keep)) : eq(sessions.userId, id))
          .run();
        insertAuditEntry(tx, actor, {
          action: options.action,
          targetType: 'user',
          targetId: id,
          summary: before.email,
          changes: { password: [secretMarker, secretMarker] },
        });
        return before;
      });
    },

    /**
     * The account these credentials open, or null. An unknown email costs the same work as a wrong password,
     * and a disabled account answers like a wrong password. A hash made with weaker parameters is upgraded.
     */
    async checkCredentials(email: string, password: string): Promise<UserView | null> {
      const row = db.select().from(users).where(eq(users.email, normalizeEmail(email))).get();
      if (!row) return hasher.verifyAgainstNothing(password).then(() => null);
      if (!(await hasher.verify(password, row.passwordHash))) return null;
      if (row.disabled) return null;
      if (hasher.needsRehash(row.passwordHash)) {
        const upgraded = await hasher.hash(password);
        db.update(users).set({ passwordHash: upgraded }).where(and(eq(users.id, row.id), eq(users.passwordHash, row.passwordHash))).run();
      }
      const { passwordHash: _omit, ...view } = row;
      return view;
    },

    /** Verifies a signed-in user's current password (the password page asks for it). */
    async verifyPassword(id: number, password: string): Promise<boolean> {
      const row = db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, id)).get();
      if (!row) return hasher.verifyAgainstNothing(password);
      return hasher.verify(password, row.passwordHash);
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
