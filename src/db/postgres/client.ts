import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
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
  /** Answers and accepts a write (rolled back): false while the database is unreachable or read-only. */
  healthy(): Promise<boolean>;
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

export async function isHealthy(pool: pg.Pool): Promise<boolean> {
  let client: pg.PoolClient | undefined;
  let healthy = false;
  try {
    client = await pool.connect();
    await client.query('SELECT 1');
    await client.query('BEGIN');
    try {
      await client.query('CREATE TEMPORARY TABLE relais_health_probe (id integer) ON COMMIT DROP');
      await client.query('INSERT INTO relais_health_probe VALUES (1)');
    } finally {
      await client.query('ROLLBACK');
    }
    healthy = true;
  } catch {
    // Not healthy; the connection is destroyed below rather than handed out again.
  } finally {
    client?.release(!healthy);
  }
  return healthy;
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
    healthy: () => isHealthy(pool),
    close: () => pool.end(),
  };
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|28P01|28000|3D000|57P03)$/.test(code)) return true;
  return err instanceof Error && /timeout|terminated|connect/i.test(err.message) && !('severity' in err);
}
