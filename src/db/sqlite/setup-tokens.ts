import { and, count, eq, isNull } from 'drizzle-orm';
import type { SetupTokenStore } from '../../auth/store.js';
import type { Db } from './client.js';
import { setupTokens } from './schema.js';
import type { WriteLock } from './write-lock.js';

export function createSqliteSetupTokenStore(db: Db, lock: WriteLock): SetupTokenStore {
  const unused = (tokenHash: string) => and(eq(setupTokens.tokenHash, tokenHash), isNull(setupTokens.usedAt));
  return {
    insert(tokenHash, at) {
      return lock.run(() => {
        db.insert(setupTokens).values({ tokenHash, createdAt: at }).run();
      });
    },
    deleteUnused() {
      return lock.run(() => {
        db.delete(setupTokens).where(isNull(setupTokens.usedAt)).run();
      });
    },
    async isUnused(tokenHash) {
      return db.select({ tokenHash: setupTokens.tokenHash }).from(setupTokens).where(unused(tokenHash)).get() !== undefined;
    },
    async countUnused() {
      return db.select({ n: count() }).from(setupTokens).where(isNull(setupTokens.usedAt)).get()?.n ?? 0;
    },
    use(tokenHash, at) {
      return lock.run(() => db.update(setupTokens).set({ usedAt: at }).where(unused(tokenHash)).run().changes === 1);
    },
  };
}
