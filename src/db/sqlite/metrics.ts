import { asc, count, inArray, min } from 'drizzle-orm';
import type { MetricsStore } from '../../metrics/store.js';
import type { Db } from './client.js';
import { outboxAttempts, outboxMessages, smtpServers } from './schema.js';

const waiting = ['queued', 'retry', 'sending'] as const;

export function createSqliteMetricsStore(db: Db): MetricsStore {
  return {
    async snapshot() {
      const m = outboxMessages;
      const messages = db.select({ status: m.status, department: m.departmentCode, count: count() }).from(m).groupBy(m.status, m.departmentCode).all();
      const a = outboxAttempts;
      const attempts = db.select({ serverId: a.serverId, outcome: a.outcome, count: count() }).from(a).groupBy(a.serverId, a.outcome).all();
      const queue = db.select({ depth: count(), oldest: min(m.acceptedAt) }).from(m).where(inArray(m.status, [...waiting])).get();
      const servers = db
        .select({ id: smtpServers.id, title: smtpServers.title, active: smtpServers.active, lastTestAt: smtpServers.lastTestAt, lastTestOk: smtpServers.lastTestOk, downUntil: smtpServers.downUntil })
        .from(smtpServers)
        .orderBy(asc(smtpServers.id))
        .all();
      const oldest = queue?.oldest ?? null;
      return { messages, attempts, queue: { depth: queue?.depth ?? 0, oldestAcceptedAt: oldest === null ? null : new Date(Number(oldest instanceof Date ? oldest.getTime() : oldest)) }, servers };
    },
  };
}
