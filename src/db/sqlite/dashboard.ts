import type BetterSqlite3 from 'better-sqlite3';
import type { ConfirmationStatus } from '../../confirmation/store.js';
import { quantileBucketOf, quantileBucketsOfSorted } from '../../dashboard/latency.js';
import type { DashboardStore, Outcome } from '../../dashboard/store.js';

/**
 * The counters the outbox keeps as it writes: called inside its transactions (insert, settle, settleMany), so a
 * message's state and the dashboard's numbers land together. One statement per table, whatever the number of messages.
 * Accepted messages are counted by the trigger on outbox_messages (migration dashboard-counts), retried ones once each,
 * when their round count leaves 0, by its triggers (migration retried-once).
 */
export interface SqliteDashboardCounters {
  /** The messages just settled (their rows already carry the new status): sent and failed are counted. */
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
    SELECT department_code, CAST(accepted_at AS INTEGER) - CAST(accepted_at AS INTEGER) % 3600000, status, count(*)
    FROM ${settledRows} WHERE status IN ('sent', 'failed')
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

type ServerRow = [
  number, string, string, number, ConfirmationStatus, number | null, number, number | null, number | null,
  string | null, number | null, number | null, string | null, number | null, number,
];

const dateOf = (ms: number | null) => (ms === null ? null : new Date(ms));

export function createSqliteDashboardStore(sqlite: BetterSqlite3.Database): DashboardStore {
  // Plain prepared statements read through the covering indexes (migration dashboard-covering-indexes), the sums and
  // percentiles made in SQL and the rows returned as arrays: the page reads tens of rows, not thousands of objects.
  const hourlyRows = sqlite.prepare(`SELECT department_code AS department, hour, outcome, count FROM dashboard_hourly_counts WHERE hour >= ? ORDER BY hour`);
  const hourSeriesRows = sqlite
    .prepare(
      `SELECT department_code, hour,
        sum(CASE outcome WHEN 'accepted' THEN count ELSE 0 END), sum(CASE outcome WHEN 'sent' THEN count ELSE 0 END),
        sum(CASE outcome WHEN 'retried' THEN count ELSE 0 END), sum(CASE outcome WHEN 'failed' THEN count ELSE 0 END)
      FROM dashboard_hourly_counts WHERE hour >= ? GROUP BY hour, department_code ORDER BY hour`,
    )
    .raw();
  const totalRows = sqlite
    .prepare(
      `SELECT department_code, outcome, sum(CASE WHEN hour >= @day THEN count ELSE 0 END), sum(count)
      FROM dashboard_hourly_counts WHERE hour >= @week GROUP BY department_code, outcome`,
    )
    .raw();
  const latencyRows = sqlite.prepare(`SELECT day, bucket, sum(count) AS count FROM dashboard_latency_counts WHERE day >= ? GROUP BY day, bucket ORDER BY day, bucket`);
  // Summed per day and bucket in SQL (in the covering index's order), a day's histogram handed over as one text:
  // fourteen rows instead of a thousand, read down to their percentiles in bucket order. (group_concat's own ORDER BY
  // costs two sorts; the ordered subquery feeds it in order, which latencyQuantiles checks.)
  const histogramRows = sqlite
    .prepare(
      `SELECT day, group_concat(bucket || ' ' || n, ' ') FROM (
        SELECT day, bucket, sum(count) AS n FROM dashboard_latency_counts WHERE day >= ? GROUP BY day, bucket ORDER BY day, bucket)
      GROUP BY day ORDER BY day`,
    )
    .raw();
  // The servers of the departments' cards, read the way the columns are stored (dates as epoch ms, booleans as 0/1).
  const serverRows = sqlite
    .prepare(
      `SELECT s.id, s.title, s.host, s.active, s.confirmation_status, s.down_until, s.consecutive_failures, s.last_test_at, s.last_test_ok,
        s.last_test_summary, s.last_success_at, s.last_error_at, s.last_error, s.rate_limit_per_minute, coalesce(slot.used, 0)
      FROM smtp_servers s LEFT JOIN smtp_send_slots slot ON slot.server_id = s.id AND slot.window_start = @minute
      WHERE s.id IN (SELECT value FROM json_each(@ids))`,
    )
    .raw();
  return {
    async hourly(since) {
      const rows = hourlyRows.all(since.getTime()) as { department: string; hour: number; outcome: Outcome; count: number }[];
      return rows.map((row) => ({ ...row, hour: new Date(row.hour) }));
    },

    async hourSeries(since) {
      const rows = hourSeriesRows.all(since.getTime()) as [string, number, number, number, number, number][];
      return rows.map(([department, hour, accepted, sent, retried, failed]) => ({ department, hour, accepted, sent, retried, failed }));
    },

    async totals(daySince, weekSince) {
      const rows = totalRows.all({ day: daySince.getTime(), week: weekSince.getTime() }) as [string, Outcome, number, number][];
      return rows.map(([department, outcome, day, week]) => ({ department, outcome, day, week }));
    },

    async latency(since) {
      const rows = latencyRows.all(since.getTime()) as { day: number; bucket: number; count: number }[];
      return rows.map((row) => ({ ...row, day: new Date(row.day) }));
    },

    async latencyQuantiles(since) {
      const rows = histogramRows.all(since.getTime()) as [number, string][];
      return rows.map(([day, text]) => {
        const numbers = text.split(' ');
        const buckets: number[] = [];
        const counts: number[] = [];
        let delivered = 0;
        let ordered = true;
        for (let i = 0; i < numbers.length; i += 2) {
          const bucket = Number(numbers[i]);
          const n = Number(numbers[i + 1]);
          if (buckets.length > 0 && bucket <= buckets[buckets.length - 1]!) ordered = false;
          buckets.push(bucket);
          counts.push(n);
          delivered += n;
        }
        const [p50Bucket = null, p95Bucket = null] = ordered
          ? quantileBucketsOfSorted(buckets, counts, [0.5, 0.95])
          : [0.5, 0.95].map((q) => quantileBucketOf(new Map(buckets.map((bucket, i) => [bucket, counts[i]!])), q));
        return { day: new Date(day), delivered, p50Bucket, p95Bucket };
      });
    },

    async servers(ids, minute) {
      if (ids.length === 0) return [];
      const rows = serverRows.all({ ids: JSON.stringify(ids), minute: minute.getTime() }) as ServerRow[];
      return rows.map(
        ([id, title, host, active, confirmationStatus, downUntil, consecutiveFailures, lastTestAt, lastTestOk, lastTestSummary, lastSuccessAt, lastErrorAt, lastError, rateLimitPerMinute, usedThisMinute]) => ({
          id,
          title,
          host,
          active: active === 1,
          confirmationStatus,
          downUntil: dateOf(downUntil),
          consecutiveFailures,
          lastTestAt: dateOf(lastTestAt),
          lastTestOk: lastTestOk === null ? null : lastTestOk === 1,
          lastTestSummary,
          lastSuccessAt: dateOf(lastSuccessAt),
          lastErrorAt: dateOf(lastErrorAt),
          lastError,
          rateLimitPerMinute,
          usedThisMinute,
        }),
      );
    },
  };
}
