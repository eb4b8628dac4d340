import { and, eq } from 'drizzle-orm';
import { probeResultOf, type ProbeResultStore } from '../../smtp-probe/store.js';
import type { PgExecutor } from './stores.js';
import { smtpServers } from './schema.js';

export function createPostgresProbeResultStore(db: PgExecutor): ProbeResultStore {
  return {
    async recordOnServer(serverId, result, testedVersion) {
      // An edit in progress holds the row: this waits for it, then finds its version moved on and stamps nothing.
      const stamped = await db
        .update(smtpServers)
        .set({ lastTestAt: result.at, lastTestOk: result.ok, lastTestSummary: result.report })
        .where(and(eq(smtpServers.id, serverId), eq(smtpServers.version, testedVersion)))
        .returning({ id: smtpServers.id });
      return stamped.length === 1;
    },

    async lastOf(serverId) {
      const [row] = await db
        .select({ at: smtpServers.lastTestAt, ok: smtpServers.lastTestOk, report: smtpServers.lastTestSummary })
        .from(smtpServers)
        .where(eq(smtpServers.id, serverId));
      return probeResultOf(row);
    },
  };
}
