import type { Stores } from '../stores.js';
import { createPostgresAuditStore } from './audit.js';
import { createPostgresConfirmationStore } from './confirmations.js';
import { createPostgresProbeResultStore } from './probes.js';
import { createPostgresSessionStore } from './sessions.js';
import { createPostgresSetupTokenStore } from './setup-tokens.js';
import { createPostgresThrottleStore } from './throttle.js';
import { createPostgresUserStore } from './users.js';
import { createPostgresLogoStore } from './logos.js';
import { StoreUnavailableError } from '../failures.js';
import { createPostgresDepartmentStore } from './departments.js';
import { createPostgresApiTokenStore } from './api-tokens.js';
import { createPostgresOutboxStore } from './outbox.js';
import { createPostgresHealthCheckStore } from './health-checks.js';
import { createPostgresAlertStore } from './alerts.js';
import { createPostgresMetricsStore } from './metrics.js';
import { createPostgresDashboardStore } from './dashboard.js';
import { createPostgresListingCache, createPostgresServerStore, type PostgresListingCache } from './servers.js';
import { isConnectionError, type PgDb, type PostgresHandle } from './client.js';

/** The pool, or one transaction's connection: stores run their SQL on whichever they were made with. */
export type PgExecutor = PgDb | Parameters<Parameters<PgDb['transaction']>[0]>[0];

function storesOn(db: PgExecutor, handle: PostgresHandle, listings: PostgresListingCache, inTransaction: boolean): Stores {
  const stores: Stores = {
    kind: 'postgres',
    servers: createPostgresServerStore(db, listings),
    departments: createPostgresDepartmentStore(db),
    logos: createPostgresLogoStore(db),
    audit: createPostgresAuditStore(db),
    confirmations: createPostgresConfirmationStore(db),
    probes: createPostgresProbeResultStore(db),
    users: createPostgresUserStore(db),
    sessions: createPostgresSessionStore(db),
    setupTokens: createPostgresSetupTokenStore(db),
    throttle: createPostgresThrottleStore(db),
    apiTokens: createPostgresApiTokenStore(db),
    outbox: createPostgresOutboxStore(db),
    healthChecks: createPostgresHealthCheckStore(db),
    alerts: createPostgresAlertStore(db),
    metrics: createPostgresMetricsStore(db),
    dashboard: createPostgresDashboardStore(db),
    transaction(fn) {
      if (inTransaction) return fn(stores);
      return handle.transaction((tx) => fn(storesOn(tx, handle, listings, true)));
    },
    healthy: () => handle.health(),
    close: () => handle.close(),
  };
  return stores;
}

export function createPostgresStores(handle: PostgresHandle): Stores {
  return unavailableWhenLost(storesOn(handle.db, handle, createPostgresListingCache(handle.db), false));
}

function rethrow(err: unknown): never {
  throw isConnectionError(err) ? new StoreUnavailableError(err) : err;
}

function guarded<F>(fn: F, self: unknown): F {
  if (typeof fn !== 'function') return fn;
  return ((...args: unknown[]) => {
    const result = fn.apply(self, args);
    return result instanceof Promise ? result.catch(rethrow) : result;
  }) as F;
}

/**
 * A connection refused or lost (PostgreSQL down, restarted, out of reach) becomes StoreUnavailableError, which the
 * error pages and forms show as « the database does not answer »; the pool reconnects for the next request.
 */
function unavailableWhenLost(stores: Stores): Stores {
  const wrapped: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(stores)) {
    if (typeof member === 'function') wrapped[key] = guarded(member, stores);
    else if (typeof member === 'object' && member !== null) {
      wrapped[key] = Object.fromEntries(Object.entries(member).map(([name, fn]) => [name, guarded(fn, member)]));
    } else wrapped[key] = member;
  }
  const transaction = stores.transaction.bind(stores);
  wrapped.transaction = <T>(fn: (tx: Stores) => Promise<T>) => transaction((tx) => fn(unavailableWhenLost(tx))).catch(rethrow);
  return wrapped as unknown as Stores;
}
