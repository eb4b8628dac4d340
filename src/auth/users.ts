import type { Actor, FieldChanges } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import type { PasswordHasher, VerifyLane } from './password.js';
import type { Role, UserFields, UserView } from './store.js';
import { hashToken } from './tokens.js';

export { DuplicateEmailError, roles, type Role, type UserView } from './store.js';

export interface NewUser {
  email: string;
  displayName: string;
  role: Role;
  password: string;
}

export type UserChanges = UserFields;

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

/** The first account was to be created, but another instance (or request) created one first. */
export class FirstAccountTakenError extends Error {
  constructor() {
    super('An account already exists');
  }
}

export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/** The marker the audit trail shows for a secret, never its value. */
export const secretMarker = 'modifié';

export function createUserRepository(stores: Stores, hasher: PasswordHasher) {
  return {
    countUsers: (): Promise<number> => stores.users.count(),
    listUsers: (): Promise<UserView[]> => stores.users.list(),
    findUser: (id: number): Promise<UserView | null> => stores.users.find(id),
    findUserByEmail: (email: string): Promise<UserView | null> => stores.users.findByEmail(normalizeEmail(email)),

    /**
     * Creates an account. With `setupToken` (the one-time setup link) or `first` (RELAIS_ADMIN_* at start), this is the
     * first administrator: no account may exist yet and the token must be unused, checked in the same transaction under
     * a lock that every instance takes.
     */
    async createUser(input: NewUser, actor: Actor, options: { setupToken?: string; first?: boolean } = {}): Promise<UserView> {
      const email = normalizeEmail(input.email);
      const passwordHash = await hasher.hash(input.password);
      const first = options.first === true || options.setupToken !== undefined;
      return stores.transaction(async (tx) => {
        const now = new Date();
        if (first) {
          await tx.users.lockFirstAccount();
          const used = options.setupToken === undefined || (await tx.setupTokens.use(hashToken(options.setupToken), now));
          const existing = await tx.users.count();
          if (!used || existing > 0) throw options.setupToken === undefined ? new FirstAccountTakenError() : new SetupTokenError();
        }
        const user = await tx.users.insert({ email, displayName: input.displayName, role: input.role, passwordHash }, now);
        // The first administrator, created from the setup link, is the author of their own account.
        const author = options.setupToken !== undefined && actor.userId === null ? { ...actor, userId: user.id, name: email } : actor;
        await tx.audit.append(author, {
          action: 'user.create',
          targetType: 'user',
          targetId: user.id,
          summary: email,
          changes: { email: [null, email], displayName: [null, input.displayName], role: [null, input.role], password: [null, secretMarker] },
        });
        return user;
      });
    },

    /** Returns null when the user no longer exists. Disabling ends the user's sessions in the same transaction. */
    async updateUser(id: number, input: UserChanges, actor: Actor): Promise<{ user: UserView; changes: FieldChanges } | null> {
      const email = normalizeEmail(input.email);
      return stores.transaction(async (tx) => {
        const before = await tx.users.find(id);
        if (!before) return null;
        const after: UserFields = { email, displayName: input.displayName, role: input.role, disabled: input.disabled };
        const changes: FieldChanges = {};
        for (const key of Object.keys(after) as (keyof UserFields)[]) {
          if (before[key] !== after[key]) changes[key] = [before[key], after[key]];
        }
        if (Object.keys(changes).length === 0) return { user: before, changes };
        const wasActiveAdmin = before.role === 'admin' && !before.disabled;
        const staysActiveAdmin = after.role === 'admin' && !after.disabled;
        if (wasActiveAdmin && !staysActiveAdmin) {
          // Locked, so two administrators demoting each other at once cannot both succeed.
          const admins = await tx.users.lockActiveAdminIds();
          if (!admins.some((other) => other !== id)) throw new LastAdminError();
        }
        const user = await tx.users.update(id, after, new Date());
        if (!user) return null;
        if (after.disabled) await tx.sessions.deleteOfUser(id);
        await tx.audit.append(actor, { action: 'user.update', targetType: 'user', targetId: id, summary: email, changes });
        return { user, changes };
      });
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
      return stores.transaction(async (tx) => {
        const before = await tx.users.find(id);
        if (!before) return null;
        await tx.users.setPasswordHash(id, passwordHash, { at: new Date() });
        await tx.sessions.deleteOfUser(id, options.keepSessionOf);
        await tx.audit.append(actor, {
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
    async checkCredentials(email: string, password: string, lane?: VerifyLane): Promise<UserView | null> {
      const row = await stores.users.findWithHash(normalizeEmail(email));
      if (!row) return hasher.verifyAgainstNothing(password, lane).then(() => null);
      if (!(await hasher.verify(password, row.passwordHash, lane))) return null;
      if (row.disabled) return null;
      if (hasher.needsRehash(row.passwordHash)) {
        const upgraded = await hasher.hash(password);
        await stores.users.setPasswordHash(row.id, upgraded, { ifHashIs: row.passwordHash });
      }
      const { passwordHash: _omit, ...view } = row;
      return view;
    },

    /** Verifies a signed-in user's current password (the password page asks for it). */
    async verifyPassword(id: number, password: string, lane?: VerifyLane): Promise<boolean> {
      const passwordHash = await stores.users.passwordHashOf(id);
      if (passwordHash === null) return hasher.verifyAgainstNothing(password, lane);
      return hasher.verify(password, passwordHash, lane);
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
