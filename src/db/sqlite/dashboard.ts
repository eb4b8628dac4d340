import type BetterSqlite3 from 'better-sqlite3';
import { and, asc, gte, inArray, sql } from 'drizzle-orm';
import type { DashboardStore, Outcome } from '../../dashboard/store.js';
import type { Db } from './client.js';
import { dashboardHourlyCounts as hourly, dashboardLatencyCounts as latency, smtpSendSlots, smtpServers } from './schema.js';

/**
 * The counters the outbox keeps as it writes: called inside its transactions (insert, settle, settleMany), so a
 * message's state and the dashboard's numbers land together. One statement per table, whatever the number of messages.
 */
export interface SqliteDashboardCounters {
  recordAccepted(departmentCode: string, acceptedAt: Date): void;
  /** The messages just settled (their rows already carry the new status): sent, retry and failed are counted. */
  recordSettled(ids: readonly number[]): void;
}

export function createSqliteDashboardCounters(sqlite: BetterSqlite3.Database): SqliteDashboardCounters {
  const accepted = sqlite.prepare(`
    INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count) VALUES (?, ?, 'accepted', 1)
    ON CONFLICT DO UPDATE SET count = count + excluded.count`);
  const settledHourly = sqlite.prepare(`
    INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
    SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 3600000,
      CASE status WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'retried' ELSE 'failed' END, count(*)
    FROM outbox_messages WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('sent', 'retry', 'failed')
    GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET count = count + excluded.count`);
  const settledLatency = sqlite.prepare(`
    INSERT INTO dashboard_latency_counts (department_code, day, bucket, count)
    SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 86400000,
      CAST(floor(ln(max(sent_at - accepted_at, 1)) * 20) AS INTEGER), count(*)
    FROM outbox_messages WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sent' AND sent_at IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET count = count + excluded.count`);
  return {
    recordAccepted(departmentCode, acceptedAt) {
      const ms = acceptedAt.getTime();
      accepted.run(departmentCode, ms - (ms % 3_600_000));
    },
    recordSettled(ids) {
      if (ids.length === 0) return;
      const list = JSON.stringify(ids);
      settledHourly.run(list);
      settledLatency.run(list);
    },
  };
}

export function createSqliteDashboardStore(db: Db): DashboardStore {
  return {
    async hourly(since) {
      const rows = db
        .select({ department: hourly.departmentCode, hour: hourly.hour, outcome: hourly.outcome, count: hourly.count })
        .from(hourly)
        .where(gte(hourly.hour, since))
        .orderBy(asc(hourly.hour))
        .all();
      return rows.map((row) => ({ ...row, outcome: row.outcome as Outcome }));
    },

    async latency(since) {
      return db
        .select({ department: latency.departmentCode, day: latency.day, bucket: latency.bucket, count: latency.count })
        .from(latency)
        .where(gte(latency.day, since))
        .orderBy(asc(latency.day), asc(latency.bucket))
        .all();
    },

    async servers(ids, minute) {
      if (ids.length === 0) return [];
      return db
        .select({
          id: smtpServers.id,
          title: smtpServers.title,
          host: smtpServers.host,
          active: smtpServers.active,
          confirmationStatus: smtpServers.confirmationStatus,
          downUntil: smtpServers.downUntil,
          consecutiveFailures: smtpServers.consecutiveFailures,
          lastTestAt: smtpServers.lastTestAt,
          lastTestOk: smtpServers.lastTestOk,
          lastTestSummary: smtpServers.lastTestSummary,
          lastSuccessAt: smtpServers.lastSuccessAt,
          lastErrorAt: smtpServers.lastErrorAt,
          lastError: smtpServers.lastError,
          rateLimitPerMinute: smtpServers.rateLimitPerMinute,
          usedThisMinute: sql<number>`coalesce(${smtpSendSlots.used}, 0)`,
        })
        .from(smtpServers)
        .leftJoin(smtpSendSlots, and(sql`${smtpSendSlots.serverId} = ${smtpServers.id}`, sql`${smtpSendSlots.windowStart} = ${minute.getTime()}`))
        .where(inArray(smtpServers.id, [...ids]))
        .all();
    },
  };
}
