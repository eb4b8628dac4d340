import type { Stores } from '../stores.js';
import type { DatabaseHandle } from './client.js';
import { createSqliteAuditStore } from './audit.js';
import { createSqliteConfirmationStore } from './confirmations.js';
import { createSqliteProbeResultStore } from './probes.js';
import { createSqliteSessionStore } from './sessions.js';
import { createSqliteSetupTokenStore } from './setup-tokens.js';
import { createSqliteThrottleStore } from './throttle.js';
import { createSqliteUserStore } from './users.js';
import { createSqliteLogoStore } from './logos.js';
import { sqliteHealth } from './health.js';
import { sharedWriteLock } from './write-lock.js';
import { createSqliteServerStore } from './servers.js';
import { createSqliteDepartmentStore } from './departments.js';
import { createSqliteApiTokenStore } from './api-tokens.js';
import { createSqliteOutboxStore } from './outbox.js';
import { createSqliteHealthCheckStore } from './health-checks.js';
import { createSqliteAlertStore } from './alerts.js';
import { createSqliteMetricsStore } from './metrics.js';
import { createSqliteDashboardStore } from './dashboard.js';

/** The stores on one SQLite file: one connection, writes and transactions in turn (see write-lock.ts). */
export function createSqliteStores(handle: DatabaseHandle): Stores {
  const { lock, release } = sharedWriteLock(handle.file);
  const { sqlite, db } = handle;
  const stores: Stores = {
    kind: 'sqlite',
    servers: createSqliteServerStore(db, sqlite, lock),
    departments: createSqliteDepartmentStore(db, sqlite, lock),
    logos: createSqliteLogoStore(db, lock),
    audit: createSqliteAuditStore(db, lock),
    confirmations: createSqliteConfirmationStore(db, lock),
    probes: createSqliteProbeResultStore(db, lock),
    users: createSqliteUserStore(db, lock),
    sessions: createSqliteSessionStore(db, lock),
    setupTokens: createSqliteSetupTokenStore(db, lock),
    throttle: createSqliteThrottleStore(db, lock),
    apiTokens: createSqliteApiTokenStore(db, lock),
    outbox: createSqliteOutboxStore(db, sqlite, lock),
    healthChecks: createSqliteHealthCheckStore(db, sqlite, lock),
    alerts: createSqliteAlertStore(db, lock),
    metrics: createSqliteMetricsStore(db),
    dashboard: createSqliteDashboardStore(sqlite),
    transaction(fn) {
      if (lock.held) return fn(stores);
      return lock.run(async () => {
        // IMMEDIATE takes the write lock now, so another process can't make this transaction fail half-way.
        sqlite.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(stores);
          sqlite.exec('COMMIT');
          return result;
        } catch (err) {
          if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
          throw err;
        }
      });
    },
    // Under the lock: the probe's BEGIN must not land inside someone's open transaction on this one connection.
    healthy: () => lock.run(() => sqliteHealth(sqlite, handle.file)),
    async close() {
      release();
      handle.close();
    },
  };
  return stores;
}
