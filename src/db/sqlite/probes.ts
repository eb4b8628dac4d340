import { and, eq } from 'drizzle-orm';
import { probeResultOf, type ProbeResultStore } from '../../smtp-probe/store.js';
import type { Db } from './client.js';
import { smtpServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

export function createSqliteProbeResultStore(db: Db, lock: WriteLock): ProbeResultStore {
  return {
    async recordOnServer(serverId, result, testedVersion) {
      const { changes } = await lock.run(() =>
        db
          .update(smtpServers)
          .set({ lastTestAt: result.at, lastTestOk: result.ok, lastTestSummary: result.report })
          .where(and(eq(smtpServers.id, serverId), eq(smtpServers.version, testedVersion)))
          .run(),
      );
      return changes === 1;
    },

    async lastOf(serverId) {
      const row = db
        .select({ at: smtpServers.lastTestAt, ok: smtpServers.lastTestOk, report: smtpServers.lastTestSummary })
        .from(smtpServers)
        .where(eq(smtpServers.id, serverId))
        .get();
      return probeResultOf(row);
    },
  };
}
