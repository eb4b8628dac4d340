import { and, count, eq, isNull } from 'drizzle-orm';
import { systemActor } from '../audit/repository.js';
import type { Db } from '../db/client.js';
import { setupTokens, users } from '../db/schema.js';
import { checkPassword } from './password-rules.js';
import { hashToken, newToken } from './tokens.js';
import { normalizeEmail, type UserRepository } from './users.js';
import { validateEmail } from './validation.js';

export type FirstStart =
  | { kind: 'ready' }
  | { kind: 'adminCreated'; email: string }
  | { kind: 'setupLink'; url: string };

/**
 * Runs at every start and does something only while no account exists: creates the administrator named by
 * RELAIS_ADMIN_EMAIL / RELAIS_ADMIN_PASSWORD, or else issues a one-time setup link (the link of the latest start
 * is the one that works).
 */
export async function prepareFirstStart(
  db: Db,
  userRepository: UserRepository,
  options: { adminEmail: string | undefined; adminPassword: string | undefined; publicUrl: string },
): Promise<FirstStart> {
  if ((await userRepository.countUsers()) > 0) {
    db.delete(setupTokens).where(isNull(setupTokens.usedAt)).run();
    return { kind: 'ready' };
  }
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
    const user = await userRepository.createUser(
      { email: adminEmail, displayName: normalizeEmail(adminEmail).split('@')[0] || adminEmail, role: 'admin', password: adminPassword },
      systemActor,
    );
    return { kind: 'adminCreated', email: user.email };
  }
  const token = newToken();
  db.transaction((tx) => {
    tx.delete(setupTokens).where(isNull(setupTokens.usedAt)).run();
    tx.insert(setupTokens).values({ tokenHash: hashToken(token), createdAt: new Date() }).run();
  });
  return { kind: 'setupLink', url: `${options.publicUrl}/setup/${token}` };
}

/** A setup link works while it is unused and no account exists. */
export async function setupTokenUsable(db: Db, token: string): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return false;
  const found = db
    .select({ tokenHash: setupTokens.tokenHash })
    .from(setupTokens)
    .where(and(eq(setupTokens.tokenHash, hashToken(token)), isNull(setupTokens.usedAt)))
    .get();
  if (!found) return false;
  return (db.select({ n: count() }).from(users).get()?.n ?? 0) === 0;
}
