import type BetterSqlite3 from 'better-sqlite3';
import { and, inArray, sql } from 'drizzle-orm';
import type { DashboardStore, Outcome, OutcomeTotal } from '../../dashboard/store.js';
import type { Db } from './client.js';
import { smtpSendSlots, smtpServers } from './schema.js';

/**
 * The counters the outbox keeps as it writes: called inside its transactions (insert, settle, settleMany), so a
 * message's state and the dashboard's numbers land together. One statement per table, whatever the number of messages.
 * Accepted messages are counted by the trigger on outbox_messages (migration dashboard-counts).
 */
export interface SqliteDashboardCounters {
  /** The messages just settled (their rows already carry the new status): sent, retry and failed are counted. */
  recordSettled(ids: readonly number[]): void;
  /** A failed message queued again: no longer failed (its next outcome will be counted when it comes). */
  recordRequeued(id: number): void;
}

// The settled ids first, each message then found by its id: with `id IN (…)` SQLite walked the status index over every
// message ever sent (a settle's cost grew with the log: 0.4 ms a message after 4,000, more with each one).
const settledRows = `(SELECT DISTINCT value AS id FROM json_each(?)) AS settled CROSS JOIN outbox_messages USING (id)`;

export function createSqliteDashboardCounters(sqlite: BetterSqlite3.Database): SqliteDashboardCounters {
  const settledHourly = sqlite.prepare(`
    INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
    SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 3600000,
      CASE status WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'retried' ELSE 'failed' END, count(*)
    FROM ${settledRows} WHERE status IN ('sent', 'retry', 'failed')
    GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET count = count + excluded.count`);
  const settledLatency = sqlite.prepare(`
    INSERT INTO dashboard_latency_counts (department_code, day, bucket, count)
    SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 86400000,
      CAST(floor(ln(max(sent_at - accepted_at, 1)) * 20) AS INTEGER), count(*)
    FROM ${settledRows} WHERE status = 'sent' AND sent_at IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET count = count + excluded.count`);
  const requeued = sqlite.prepare(`
    UPDATE dashboard_hourly_counts SET count = count - 1
    WHERE outcome = 'failed' AND (department_code, hour) IN (
      SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 3600000 FROM outbox_messages WHERE id = ?)`);
  return {
    recordRequeued(id) {
      requeued.run(id);
    },
    recordSettled(ids) {
      if (ids.length === 0) return;
      const list = JSON.stringify(ids);
      settledHourly.run(list);
      settledLatency.run(list);
    },
  };
}

export function createSqliteDashboardStore(db: Db, sqlite: BetterSqlite3.Database): DashboardStore {
  // Plain prepared statements: these read a few thousand small rows for every view of the page.
  const hourlyRows = sqlite.prepare(`SELECT department_code AS department, hour, outcome, count FROM dashboard_hourly_counts WHERE hour >= ? ORDER BY hour`);
  const totalRows = sqlite.prepare(`
    SELECT department_code AS department, outcome, sum(CASE WHEN hour >= @day THEN count ELSE 0 END) AS day, sum(count) AS week
    FROM dashboard_hourly_counts WHERE hour >= @week GROUP BY department_code, outcome`);
  const latencyRows = sqlite.prepare(`SELECT day, bucket, sum(count) AS count FROM dashboard_latency_counts WHERE day >= ? GROUP BY day, bucket ORDER BY day, bucket`);
  return {
    async hourly(since) {
      const rows = hourlyRows.all(since.getTime()) as { department: string; hour: number; outcome: Outcome; count: number }[];
      return rows.map((row) => ({ ...row, hour: new Date(row.hour) }));
    },

    async totals(daySince, weekSince) {
      return totalRows.all({ day: daySince.getTime(), week: weekSince.getTime() }) as OutcomeTotal[];
    },

    async latency(since) {
      const rows = latencyRows.all(since.getTime()) as { day: number; bucket: number; count: number }[];
      return rows.map((row) => ({ ...row, day: new Date(row.day) }));
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
