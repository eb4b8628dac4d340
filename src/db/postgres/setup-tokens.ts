import { and, count, eq, isNull } from 'drizzle-orm';
import type { SetupTokenStore } from '../../auth/store.js';
import { setupTokens } from './schema.js';
import type { PgExecutor } from './stores.js';

export function createPostgresSetupTokenStore(db: PgExecutor): SetupTokenStore {
  const unused = (tokenHash: string) => and(eq(setupTokens.tokenHash, tokenHash), isNull(setupTokens.usedAt));
  return {
    async insert(tokenHash, at) {
      await db.insert(setupTokens).values({ tokenHash, createdAt: at });
    },
    async deleteUnused() {
      await db.delete(setupTokens).where(isNull(setupTokens.usedAt));
    },
    async isUnused(tokenHash) {
      const rows = await db.select({ tokenHash: setupTokens.tokenHash }).from(setupTokens).where(unused(tokenHash));
      return rows.length > 0;
    },
    async countUnused() {
      const [row] = await db.select({ n: count() }).from(setupTokens).where(isNull(setupTokens.usedAt));
      return row?.n ?? 0;
    },
    async use(tokenHash, at) {
      // A concurrent use waits for this row and then sees used_at set: one of them updates it.
      const used = await db.update(setupTokens).set({ usedAt: at }).where(unused(tokenHash)).returning({ tokenHash: setupTokens.tokenHash });
      return used.length === 1;
    },
  };
}
