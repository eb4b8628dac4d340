import { eq } from 'drizzle-orm';
import type { LogoStore } from '../../signature/store.js';
import type { Db } from './client.js';
import { serverLogos } from './schema.js';

const described = {
  serverId: serverLogos.serverId,
  contentType: serverLogos.contentType,
  width: serverLogos.width,
  height: serverLogos.height,
  size: serverLogos.size,
  updatedAt: serverLogos.updatedAt,
};
import type { WriteLock } from './write-lock.js';

export function createSqliteLogoStore(db: Db, lock: WriteLock): LogoStore {
  return {
    async find(serverId) {
      return db.select().from(serverLogos).where(eq(serverLogos.serverId, serverId)).get() ?? null;
    },

    async describe(serverId) {
      return db.select(described).from(serverLogos).where(eq(serverLogos.serverId, serverId)).get() ?? null;
    },

    async put(logo) {
      const { serverId: _id, ...rest } = logo;
      await lock.run(() => db.insert(serverLogos).values(logo).onConflictDoUpdate({ target: serverLogos.serverId, set: rest }).run());
    },

    async remove(serverId) {
      const { changes } = await lock.run(() => db.delete(serverLogos).where(eq(serverLogos.serverId, serverId)).run());
      return changes > 0;
    },
  };
}
