import type { ApiTokenStore } from '../api-tokens/store.js';
import type { AuditStore } from '../audit/store.js';
import type { ConfirmationStore } from '../confirmation/store.js';
import type { ProbeResultStore } from '../smtp-probe/store.js';
import type { SessionStore, SetupTokenStore, ThrottleStore, UserStore } from '../auth/store.js';
import type { DepartmentStore, ServerStore } from '../smtp-servers/store.js';
import type { OutboxStore } from '../outbox/store.js';
import type { HealthCheckStore } from '../health-checks/store.js';
import type { DashboardStore } from '../dashboard/store.js';
import type { LogoStore } from '../signature/store.js';
import type { AlertStore } from '../alerts/store.js';
import type { MetricsStore } from '../metrics/store.js';

export type StoreKind = 'sqlite' | 'postgres';

/** What /healthz reports: 'ok' when the database answers and would accept a write now, else why not. */
export type StoreHealth = 'ok' | 'unreachable' | 'diskFull' | 'writeFailed';

/**
 * Everything Relais keeps, behind one asynchronous interface per aggregate, with one implementation per database
 * (src/db/sqlite/, src/db/postgres/). Services hold the rules and call these; no SQL outside the stores.
 */
export interface Stores {
  readonly kind: StoreKind;
  readonly servers: ServerStore;
  readonly departments: DepartmentStore;
  /** Each server's signature logo. */
  readonly logos: LogoStore;
  readonly audit: AuditStore;
  readonly confirmations: ConfirmationStore;
  readonly probes: ProbeResultStore;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly setupTokens: SetupTokenStore;
  readonly throttle: ThrottleStore;
  readonly apiTokens: ApiTokenStore;
  readonly outbox: OutboxStore;
  /** The scheduled connection tests and the certificates they saw (src/health-checks/). */
  readonly healthChecks: HealthCheckStore;
  /** The alert pass's lease, snapshot and events, the opt-ins and the alert server (src/alerts/). */
  readonly alerts: AlertStore;
  /** The counts /metrics exposes (src/metrics/). */
  readonly metrics: MetricsStore;
  /** The dashboard's counts (kept by the outbox store as it writes) and its servers' health. */
  readonly dashboard: DashboardStore;
  /**
   * Runs fn in one transaction: every store reached through `tx` reads and writes inside it, and all of it lands or none.
   * Keep slow work (password hashing, SMTP) outside. A transaction opened inside another joins it.
   */
  transaction<T>(fn: (tx: Stores) => Promise<T>): Promise<T>;
  /** Whether the database answers and accepts a write (probed, rolled back). */
  healthy(): Promise<StoreHealth>;
  close(): Promise<void>;
}
