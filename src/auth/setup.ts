import { systemActor } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import { checkPassword } from './password-rules.js';
import { hashToken, newToken } from './tokens.js';
import { FirstAccountTakenError, normalizeEmail, type UserRepository } from './users.js';
import { validateEmail } from './validation.js';

export type FirstStart =
  | { kind: 'ready' }
  | { kind: 'adminCreated'; email: string }
  | { kind: 'setupLink'; url: string };

/**
 * Runs at every start and does something only while no account exists: creates the administrator named by
 * RELAIS_ADMIN_EMAIL / RELAIS_ADMIN_PASSWORD, or else issues a one-time setup link (the link of the latest start
 * is the one that works). Instances starting together on one database create one administrator between them.
 */
export async function prepareFirstStart(
  stores: Stores,
  userRepository: UserRepository,
  options: { adminEmail: string | undefined; adminPassword: string | undefined; publicUrl: string },
): Promise<FirstStart> {
  const ready = async (): Promise<FirstStart> => {
    await stores.setupTokens.deleteUnused();
    return { kind: 'ready' };
  };
  if ((await userRepository.countUsers()) > 0) return ready();
  const { adminEmail, adminPassword } = options;
  if (adminEmail || adminPassword) {
    if (!adminEmail || !adminPassword) throw new Error('RELAIS_ADMIN_EMAIL and RELAIS_ADMIN_PASSWORD must be set together');
    if (validateEmail(adminEmail)) throw new Error(`RELAIS_ADMIN_EMAIL is not a valid email address: "${adminEmail}"`);
    const problem = checkPassword(adminPassword, { email: adminEmail });
    if (problem) {
      throw new Error(
        `RELAIS_ADMIN_PASSWORD is refused (${problem.replace('error.account.password.', '')}): use 12 to 128 characters that are not a common password`,
      );
    }
    try {
      const user = await userRepository.createUser(
        { email: adminEmail, displayName: normalizeEmail(adminEmail).split('@')[0] || adminEmail, role: 'admin', password: adminPassword },
        systemActor,
        { first: true },
      );
      return { kind: 'adminCreated', email: user.email };
    } catch (err) {
      if (err instanceof FirstAccountTakenError) return ready();
      throw err;
    }
  }
  const token = newToken();
  const issued = await stores.transaction(async (tx) => {
    await tx.users.lockFirstAccount();
    if ((await tx.users.count()) > 0) return false;
    await tx.setupTokens.deleteUnused();
    await tx.setupTokens.insert(hashToken(token), new Date());
    return true;
  });
  if (!issued) return ready();
  return { kind: 'setupLink', url: `${options.publicUrl}/setup/${token}` };
}

/** A setup link works while it is unused and no account exists. */
export async function setupTokenUsable(stores: Stores, token: string): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return false;
  if (!(await stores.setupTokens.isUnused(hashToken(token)))) return false;
  return (await stores.users.count()) === 0;
}
