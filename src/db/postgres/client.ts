import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { StoreHealth } from '../stores.js';
import * as schema from './schema.js';

export type PgDb = NodePgDatabase<typeof schema>;

export const postgresMigrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'migrations', 'postgres');

/** Any fixed number: every Relais instance takes the same lock, so only one of them migrates at a time. */
const migrationLockKey = 0x52454c41;

export interface PostgresHandle {
  pool: pg.Pool;
  db: PgDb;
  /** The URL with its password masked, fit for the log. */
  url: string;
  /** Runs fn on one connection between BEGIN and COMMIT (ROLLBACK on throw). */
  transaction<T>(fn: (db: PgDb) => Promise<T>): Promise<T>;
  /** Answers and accepts a write (rolled back): 'unreachable' or 'writeFailed' while it does not. */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}

/** The connection string with any password replaced by "***", so it may be logged. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/^(password|sslpassword|sslkey)$/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    // Not parseable as a URL: show only the scheme rather than risk printing a password.
    return `${value.split(':')[0] ?? 'postgres'}://***`;
  }
}

/** Why the database cannot be used, in one line with no password in it. */
export class DatabaseUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message || (cause as NodeJS.ErrnoException).code || cause.name : String(cause);
    super(`PostgreSQL at ${redactUrl(url)} cannot be reached: ${reason}`, { cause });
    this.name = 'DatabaseUnreachableError';
  }
}

/** `onIdleError` hears of idle connections lost (a restarted server): the pool replaces them, the caller may log it. */
export function createPool(url: string, options: pg.PoolConfig = {}, onIdleError: (err: Error) => void = () => {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000, ...options });
  // Without a listener, an idle connection's error would crash the process.
  pool.on('error', onIdleError);
  // Nor may a checked-out connection's: lost between two queries, or just after a failed one, it emits 'error' with
  // no query to hand it to (the query in flight gets its own error); the pool then drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Applies the migrations once, even when several instances start together against the same empty database. */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await migrate(drizzle(client, { schema }), { migrationsFolder: postgresMigrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]);
    }
  } finally {
    client.release();
  }
}

/** Whether the database answers ('unreachable' if not) and accepts a write, rolled back ('writeFailed': read-only, full). */
export async function postgresHealth(pool: pg.Pool): Promise<StoreHealth> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch {
    return 'unreachable';
  }
  let health: StoreHealth = 'writeFailed';
  try {
    await client.query('SELECT 1');
    await client.query('BEGIN');
    try {
      await client.query('CREATE TEMPORARY TABLE relais_health_probe (id integer) ON COMMIT DROP');
      await client.query('INSERT INTO relais_health_probe VALUES (1)');
    } finally {
      await client.query('ROLLBACK');
    }
    health = 'ok';
  } catch (err) {
    if (isConnectionError(err)) health = 'unreachable';
  } finally {
    // A connection that failed the probe is destroyed rather than handed out again.
    client.release(health !== 'ok');
  }
  return health;
}

export async function isHealthy(pool: pg.Pool): Promise<boolean> {
  return (await postgresHealth(pool)) === 'ok';
}

/**
 * drizzle's own pool transaction never releases the connection when BEGIN fails (a lost connection), and hands a
 * connection whose ROLLBACK failed back to the pool: each outage would leak one until the pool is exhausted.
 */
async function transactionOn<T>(pool: pg.Pool, fn: (db: PgDb) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(drizzle(client, { schema }));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  } catch (err) {
    broken = isConnectionError(err);
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Opens the pool and migrates; a database that cannot be reached throws DatabaseUnreachableError. */
export async function openPostgres(url: string, options: pg.PoolConfig = {}, onIdleError?: (err: Error) => void): Promise<PostgresHandle> {
  const pool = createPool(url, options, onIdleError);
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    if (isConnectionError(err)) throw new DatabaseUnreachableError(url, err);
    throw err;
  }
  return {
    pool,
    db: drizzle(pool, { schema }),
    url: redactUrl(url),
    transaction: (fn) => transactionOn(pool, fn),
    health: () => postgresHealth(pool),
    close: () => pool.end(),
  };
}

/** The server unreachable, the connection lost or refused, the server shutting down: not the query's fault. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|EPIPE|28P01|28000|3D000|57P0[123]|08\w{3})$/.test(code)) return true;
    // pg's own messages; not a server error (severity) nor drizzle's wrapper, whose message quotes the SQL.
    if (e instanceof Error && !('severity' in e) && !('query' in e) && /timeout|terminated|connect|not queryable/i.test(e.message)) return true;
  }
  return false;
}
