import type { ConfirmationStatus } from '../confirmation/store.js';

/** retried: the messages retried at least once (round_count > 0), whatever became of them since; counted once each. */
export type Outcome = 'accepted' | 'sent' | 'retried' | 'failed';
export const outcomes = ['accepted', 'sent', 'retried', 'failed'] as const satisfies readonly Outcome[];

/** Messages of a department accepted in the hour starting at `hour`, by what became of them. */
export interface HourlyCount {
  department: string;
  hour: Date;
  outcome: Outcome;
  count: number;
}

/** Messages accepted on `day` (UTC, every department) and delivered with a latency in `bucket` (src/dashboard/latency.ts). */
export interface LatencyCount {
  day: Date;
  bucket: number;
  count: number;
}

/** A server as the dashboard shows it: its state, its last test, send and error, and its rate limit's use this minute. */
export interface ServerHealth {
  id: number;
  title: string;
  host: string;
  active: boolean;
  confirmationStatus: ConfirmationStatus;
  downUntil: Date | null;
  consecutiveFailures: number;
  lastTestAt: Date | null;
  lastTestOk: boolean | null;
  lastTestSummary: string | null;
  lastSuccessAt: Date | null;
  lastErrorAt: Date | null;
  lastError: string | null;
  rateLimitPerMinute: number | null;
  /** Messages handed to it in the minute starting at `minute`. */
  usedThisMinute: number;
}

/**
 * The dashboard's counts. The outbox stores keep them in the same transactions as the messages' state changes
 * (triggers on outbox_messages for accepts and first retries, recordSettled in src/db/<dialect>/dashboard.ts for sent
 * and failed); this reads them, never the log.
 */
/** A department's messages of one outcome accepted since `daySince` (day) and since `weekSince` (week). */
export interface OutcomeTotal {
  department: string;
  outcome: Outcome;
  day: number;
  week: number;
}

/** A department's counts of one hour (from `hour`, epoch ms), by outcome: what a bar of its chart shows. */
export interface HourCounts {
  department: string;
  hour: number;
  accepted: number;
  sent: number;
  retried: number;
  failed: number;
}

/**
 * A day's delivery latencies, summed over the departments: how many, and the buckets of the median and the 95th
 * percentile (the first bucket at which the running count reaches ceil(q × total), as quantileOf reads a histogram).
 */
export interface LatencyQuantiles {
  day: Date;
  delivered: number;
  p50Bucket: number | null;
  p95Bucket: number | null;
}

export interface DashboardStore {
  /** Every (department, hour, outcome) count from the hour `since` on. */
  hourly(since: Date): Promise<HourlyCount[]>;
  /** The same counts, one row per department and hour (its four outcomes side by side), from the hour `since` on. */
  hourSeries(since: Date): Promise<HourCounts[]>;
  /** Summed in the database: one row per department and outcome. */
  totals(daySince: Date, weekSince: Date): Promise<OutcomeTotal[]>;
  /** Summed over the departments: one row per day and bucket. */
  latency(since: Date): Promise<LatencyCount[]>;
  /** Summed over the departments and read down to their percentiles in the database: one row per day that has any. */
  latencyQuantiles(since: Date): Promise<LatencyQuantiles[]>;
  servers(ids: readonly number[], minute: Date): Promise<ServerHealth[]>;
}
