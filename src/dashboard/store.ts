import type { ConfirmationStatus } from '../confirmation/store.js';

export type Outcome = 'accepted' | 'sent' | 'retried' | 'failed';
export const outcomes = ['accepted', 'sent', 'retried', 'failed'] as const satisfies readonly Outcome[];

/** Messages of a department accepted in the hour starting at `hour`, by what became of them. */
export interface HourlyCount {
  department: string;
  hour: Date;
  outcome: Outcome;
  count: number;
}

/** Messages of a department accepted on `day` (UTC) and delivered with a latency in `bucket` (src/dashboard/latency.ts). */
export interface LatencyCount {
  department: string;
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
 * (recordAccepted / recordSettled in src/db/<dialect>/dashboard.ts); this reads them, never the log.
 */
export interface DashboardStore {
  hourly(since: Date): Promise<HourlyCount[]>;
  latency(since: Date): Promise<LatencyCount[]>;
  servers(ids: readonly number[], minute: Date): Promise<ServerHealth[]>;
}
