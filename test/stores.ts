import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { getTableConfig } from 'drizzle-orm/pg-core';
import pg from 'pg';
import tap, { type Test } from 'tap';
import { insertRows, resetIdentitySequences, tablesInCopyOrder } from '../src/db/copy.js';
import { migratePostgres, redactUrl } from '../src/db/postgres/client.js';

/** Where tests may create and drop databases: a server and a database to connect to while doing so. */
export const testPostgresUrl = process.env.RELAIS_TEST_PG || 'postgres://postgres@127.0.0.1:5432/postgres';
const inCi = process.env.CI === 'true';

export type TestStore = { kind: 'sqlite'; file: string; relaisDb: string } | { kind: 'postgres'; url: string; relaisDb: string };

let reachable: Promise<string | null> | undefined;

/** null when PostgreSQL answers, else why not (one line, no password). */
export function postgresUnavailable(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: testPostgresUrl, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (err) {
      return `PostgreSQL at ${redactUrl(testPostgresUrl)} is unreachable (${(err as Error).message || (err as NodeJS.ErrnoException).code}); set RELAIS_TEST_PG or start it`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

function urlFor(database: string): string {
  const url = new URL(testPostgresUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database of the test's own (not migrated), dropped when the test ends even if connections remain. */
export async function createTestDatabase(t: Pick<Test, 'teardown'>): Promise<string> {
  const name = `relais_t_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  t.teardown(() => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  return urlFor(name);
}

interface FileDatabase {
  url: string;
  /** What the migrations put in each table (the departments), put back by every reset. */
  seeds: { table: string; columns: string[]; rows: unknown[][] }[];
}

let fileDatabase: Promise<FileDatabase> | undefined;

/** This test file's database: created and migrated on first use, dropped when the file's tests are done. */
function databaseOfThisFile(): Promise<FileDatabase> {
  fileDatabase ??= (async () => {
    const url = await createTestDatabase(tap);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await migratePostgres(pool);
      const seeds = [];
      for (const table of tablesInCopyOrder()) {
        const { name, columns } = getTableConfig(table);
        const names = columns.map((column) => column.name);
        const { rows } = await pool.query<unknown[]>({ text: `SELECT ${names.map((n) => `"${n}"`).join(', ')} FROM "${name}"`, rowMode: 'array' });
        if (rows.length) seeds.push({ table: name, columns: names, rows });
      }
      return { url, seeds };
    } finally {
      await pool.end();
    }
  })();
  return fileDatabase;
}

/** Empties this file's database back to its just-migrated state; one database per file, its tests one after another. */
export async function freshPostgres(): Promise<string> {
  const { url, seeds } = await databaseOfThisFile();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = tablesInCopyOrder().map((table) => `"${getTableConfig(table).name}"`);
    await client.query('BEGIN');
    await client.query(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY CASCADE`);
    for (const seed of seeds) await insertRows(client, seed.table, seed.columns, seed.rows);
    await resetIdentitySequences(client);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return url;
}

/**
 * Runs `fn` twice, as subtests: on a SQLite file in the subtest's folder and on this file's PostgreSQL database,
 * emptied to its migrated state (a database per subtest would cost a second each: DROP DATABASE waits for a checkpoint).
 * Without PostgreSQL the second is skipped with the reason, except in CI (CI=true), where it fails.
 */
export async function forEachStore(t: Test, name: string, fn: (t: Test, store: TestStore) => unknown): Promise<void> {
  await t.test(`${name} (sqlite)`, {}, async (st) => {
    const file = path.join(st.testdir(), 'relais.sqlite');
    await fn(st, { kind: 'sqlite', file, relaisDb: file });
  });
  const unavailable = await postgresUnavailable();
  if (unavailable && inCi) {
    t.fail(`${name} (postgres): ${unavailable} — CI=true, so this is a failure`);
    return;
  }
  await t.test(`${name} (postgres)`, { skip: unavailable ? `skipped: ${unavailable}` : false }, async (st) => {
    const url = await freshPostgres();
    await fn(st, { kind: 'postgres', url, relaisDb: url });
  });
}

/**
 * Resolves true once a session on `url`'s database is waiting for a lock (a transaction blocked behind another's row),
 * false after `timeoutMs`: a race is then staged by what the server says, not by a pause a loaded machine may outlast.
 */
export async function sessionWaitsForLock(url: string, timeoutMs = 10_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const { rows } = await client.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0]!.waiting > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  } finally {
    await client.end();
  }
}

/** For tests about PostgreSQL itself: `fn` gets an empty, unmigrated database of its own; skipped (or failed in CI) as in forEachStore. */
export async function onPostgres(t: Test, name: string, fn: (t: Test, url: string) => unknown): Promise<void> {
  const unavailable = await postgresUnavailable();
  if (unavailable && inCi) {
    t.fail(`${name}: ${unavailable} — CI=true, so this is a failure`);
    return;
  }
  await t.test(name, { skip: unavailable ? `skipped: ${unavailable}` : false }, async (st) => {
    await fn(st, await createTestDatabase(st));
  });
}
