import { asc, gte, sql } from 'drizzle-orm';
import type { DashboardStore, Outcome, ServerHealth } from '../../dashboard/store.js';
import { dashboardHourlyCounts as hourly } from './schema.js';
import { runNamed } from './named-statements.js';
import type { PgExecutor } from './stores.js';

/**
 * The dashboard's counters, written by the outbox store in the very statement that settles the messages (settleMany):
 * two CTEs over `settled`, a CTE of the rows just settled with their new status (sent and failed are counted).
 * Accepted messages are counted by the trigger on outbox_messages (migration dashboard-counts), retried ones once each,
 * when their round count leaves 0, by its trigger (migration retried-once).
 */
export const countSettled = sql`
  counted AS (
    INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
    SELECT department_code, accepted_at - accepted_at % 3600000, status, count(*)
    FROM settled WHERE status IN ('sent', 'failed') GROUP BY 1, 2, 3
    ON CONFLICT (hour, department_code, outcome) DO UPDATE SET count = dashboard_hourly_counts.count + excluded.count),
  timed AS (
    INSERT INTO dashboard_latency_counts (department_code, day, bucket, count)
    SELECT department_code, accepted_at - accepted_at % 86400000, floor(ln(greatest(sent_at - accepted_at, 1)) * 20)::int, count(*)
    FROM settled WHERE status = 'sent' AND sent_at IS NOT NULL GROUP BY 1, 2, 3
    ON CONFLICT (day, department_code, bucket) DO UPDATE SET count = dashboard_latency_counts.count + excluded.count)`;

/** A failed message queued again: no longer failed (its next outcome will be counted when it comes). */
export async function recordRequeued(db: PgExecutor, id: number): Promise<void> {
  await db.execute(sql`
    UPDATE dashboard_hourly_counts SET count = count - 1
    WHERE outcome = 'failed' AND (department_code, hour) IN (SELECT department_code, accepted_at - accepted_at % 3600000 FROM outbox_messages WHERE id = ${id})`);
}

/** A server's row as PostgreSQL returns it: its moments are bigint epoch milliseconds (strings). */
type ServerRow = Omit<ServerHealth, 'downUntil' | 'lastTestAt' | 'lastSuccessAt' | 'lastErrorAt'> & {
  downUntil: string | null;
  lastTestAt: string | null;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
};

const dateOf = (ms: string | null) => (ms === null ? null : new Date(Number(ms)));

export function createPostgresDashboardStore(db: PgExecutor): DashboardStore {
  return {
    async hourly(since) {
      const rows = await db
        .select({ department: hourly.departmentCode, hour: hourly.hour, outcome: hourly.outcome, count: hourly.count })
        .from(hourly)
        .where(gte(hourly.hour, since))
        .orderBy(asc(hourly.hour));
      return rows.map((row) => ({ ...row, outcome: row.outcome as Outcome }));
    },

    async hourSeries(since) {
      // One row per department and hour, its outcomes side by side; named, so parsed and planned once per connection.
      const { rows } = await runNamed<{ department: string; hour: string; accepted: number; sent: number; retried: number; failed: number }>(
        db,
        sql`SELECT department_code AS department, hour,
          coalesce(sum(count) FILTER (WHERE outcome = 'accepted'), 0)::int AS accepted, coalesce(sum(count) FILTER (WHERE outcome = 'sent'), 0)::int AS sent,
          coalesce(sum(count) FILTER (WHERE outcome = 'retried'), 0)::int AS retried, coalesce(sum(count) FILTER (WHERE outcome = 'failed'), 0)::int AS failed
        FROM dashboard_hourly_counts WHERE hour >= ${since.getTime()} GROUP BY hour, department_code ORDER BY hour`,
      );
      return rows.map((row) => ({ ...row, hour: Number(row.hour) }));
    },

    async totals(daySince, weekSince) {
      const { rows } = await runNamed<{ department: string; outcome: Outcome; day: string; week: string }>(
        db,
        sql`SELECT department_code AS department, outcome, sum(count) FILTER (WHERE hour >= ${daySince.getTime()}) AS day, sum(count) AS week
        FROM dashboard_hourly_counts WHERE hour >= ${weekSince.getTime()} GROUP BY department_code, outcome`,
      );
      return rows.map((row) => ({ department: row.department, outcome: row.outcome, day: Number(row.day ?? 0), week: Number(row.week) }));
    },

    async latency(since) {
      const { rows } = await db.execute<{ day: string; bucket: number; count: string }>(sql`
        SELECT day, bucket, sum(count) AS count FROM dashboard_latency_counts WHERE day >= ${since.getTime()} GROUP BY day, bucket ORDER BY day, bucket`);
      return rows.map((row) => ({ day: new Date(Number(row.day)), bucket: Number(row.bucket), count: Number(row.count) }));
    },

    async latencyQuantiles(since) {
      // quantileBucketOf in SQL: the running count over the buckets with messages (float8 ranks, as JavaScript's
      // Math.ceil(q * total) computes them), fourteen rows back instead of a thousand.
      const { rows } = await runNamed<{ day: string; delivered: string; p50: number | null; p95: number | null }>(
        db,
        sql`WITH per AS (SELECT day, bucket, sum(count) AS n FROM dashboard_latency_counts WHERE day >= ${since.getTime()} GROUP BY day, bucket),
        ranked AS (
          SELECT day, bucket, n, sum(greatest(n, 0)) OVER (PARTITION BY day ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS seen,
            sum(greatest(n, 0)) OVER (PARTITION BY day) AS total
          FROM per)
        SELECT day, sum(n) AS delivered,
          min(bucket) FILTER (WHERE n > 0 AND seen >= ceil(0.5::float8 * total::float8)) AS p50,
          min(bucket) FILTER (WHERE n > 0 AND seen >= ceil(0.95::float8 * total::float8)) AS p95
        FROM ranked GROUP BY day ORDER BY day`,
      );
      return rows.map((row) => ({ day: new Date(Number(row.day)), delivered: Number(row.delivered), p50Bucket: row.p50, p95Bucket: row.p95 }));
    },

    async servers(ids, minute) {
      if (ids.length === 0) return [];
      // By name, the ids as one parameter: the dashboard asks for its cards' servers at every view.
      const { rows } = await runNamed<ServerRow>(
        db,
        sql`SELECT s.id, s.title, s.host, s.active, s.confirmation_status AS "confirmationStatus", s.down_until AS "downUntil",
          s.consecutive_failures AS "consecutiveFailures", s.last_test_at AS "lastTestAt", s.last_test_ok AS "lastTestOk",
          s.last_test_summary AS "lastTestSummary", s.last_success_at AS "lastSuccessAt", s.last_error_at AS "lastErrorAt",
          s.last_error AS "lastError", s.rate_limit_per_minute AS "rateLimitPerMinute", coalesce(slot.used, 0)::int AS "usedThisMinute"
        FROM smtp_servers s LEFT JOIN smtp_send_slots slot ON slot.server_id = s.id AND slot.window_start = ${minute.getTime()}
        WHERE s.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::int)`,
      );
      return rows.map((row) => ({
        ...row,
        downUntil: dateOf(row.downUntil),
        lastTestAt: dateOf(row.lastTestAt),
        lastSuccessAt: dateOf(row.lastSuccessAt),
        lastErrorAt: dateOf(row.lastErrorAt),
      }));
    },
  };
}
