import { eq } from 'drizzle-orm';
import type { LogoStore } from '../../signature/store.js';
import type { PgExecutor } from './stores.js';
import { serverLogos } from './schema.js';

const described = {
  serverId: serverLogos.serverId,
  contentType: serverLogos.contentType,
  width: serverLogos.width,
  height: serverLogos.height,
  size: serverLogos.size,
  updatedAt: serverLogos.updatedAt,
};

export function createPostgresLogoStore(db: PgExecutor): LogoStore {
  return {
    async find(serverId) {
      const [row] = await db.select().from(serverLogos).where(eq(serverLogos.serverId, serverId));
      return row ?? null;
    },

    async describe(serverId) {
      const [row] = await db.select(described).from(serverLogos).where(eq(serverLogos.serverId, serverId));
      return row ?? null;
    },

    async put(logo) {
      const { serverId: _id, ...rest } = logo;
      await db.insert(serverLogos).values(logo).onConflictDoUpdate({ target: serverLogos.serverId, set: rest });
    },

    async remove(serverId) {
      const removed = await db.delete(serverLogos).where(eq(serverLogos.serverId, serverId)).returning({ id: serverLogos.serverId });
      return removed.length > 0;
    },
  };
}
