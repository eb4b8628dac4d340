// What /metrics reads (src/db/sqlite/metrics.ts, src/db/postgres/metrics.ts): counts grouped on indexed columns.

export interface MetricsSnapshot {
  messages: { status: string; department: string; count: number }[];
  attempts: { serverId: number | null; outcome: string; count: number }[];
  /** Messages waiting or being sent (queued, retry, sending) and the acceptance of the oldest of them. */
  queue: { depth: number; oldestAcceptedAt: Date | null };
  servers: { id: number; title: string; active: boolean; lastTestAt: Date | null; lastTestOk: boolean | null; downUntil: Date | null }[];
}

export interface MetricsStore {
  snapshot(): Promise<MetricsSnapshot>;
}
