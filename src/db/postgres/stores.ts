import type { Stores } from '../stores.js';
import { createPostgresAuditStore } from './audit.js';
import { createPostgresConfirmationStore } from './confirmations.js';
import { createPostgresProbeResultStore } from './probes.js';
import { createPostgresSessionStore } from './sessions.js';
import { createPostgresSetupTokenStore } from './setup-tokens.js';
import { createPostgresThrottleStore } from './throttle.js';
import { createPostgresUserStore } from './users.js';
import { createPostgresDepartmentStore, createPostgresListingCache, createPostgresServerStore, type PostgresListingCache } from './servers.js';
import type { PgDb, PostgresHandle } from './client.js';

/** The pool, or one transaction's connection: stores run their SQL on whichever they were made with. */
export type PgExecutor = PgDb | Parameters<Parameters<PgDb['transaction']>[0]>[0];

function storesOn(db: PgExecutor, handle: PostgresHandle, listings: PostgresListingCache, inTransaction: boolean): Stores {
  const stores: Stores = {
    kind: 'postgres',
    servers: createPostgresServerStore(db, listings),
    departments: createPostgresDepartmentStore(db),
    audit: createPostgresAuditStore(db),
    confirmations: createPostgresConfirmationStore(db),
    probes: createPostgresProbeResultStore(db),
    users: createPostgresUserStore(db),
    sessions: createPostgresSessionStore(db),
    setupTokens: createPostgresSetupTokenStore(db),
    throttle: createPostgresThrottleStore(db),
    transaction(fn) {
      if (inTransaction) return fn(stores);
      return handle.db.transaction((tx) => fn(storesOn(tx, handle, listings, true)));
    },
    healthy: () => handle.healthy(),
    close: () => handle.close(),
  };
  return stores;
}

export function createPostgresStores(handle: PostgresHandle): Stores {
  return storesOn(handle.db, handle, createPostgresListingCache(handle.db), false);
}
