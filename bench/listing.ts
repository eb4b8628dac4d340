// The list's queries on both stores, in this process: the SQLite listing (src/db/sqlite/server-listing.ts) and the
// PostgreSQL one (src/db/postgres/server-listing.ts) over the same seeded servers — the list page's query (a search
// every server matches, 50 a page) and the search queries' p95 — without HTTP, rendering or compression.
//   node --import tsx bench/listing.ts          (alone; BENCH_PG to name the server, default postgres://postgres@127.0.0.1:5432/postgres)
//   benchListings(queries, { small, large })    (from bench/run.ts)
import { asc } from 'drizzle-orm';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { openDatabase } from '../src/db/sqlite/client.js';
import { migratePostgres, openPostgres, redactUrl } from '../src/db/postgres/client.js';
import { createPostgresServerListing } from '../src/db/postgres/server-listing.js';
import { departments as sqliteDepartments } from '../src/db/sqlite/schema.js';
import { createServerListing } from '../src/db/sqlite/server-listing.js';
import { listedFields, type ServerListFilter } from '../src/smtp-servers/store.js';
import { benchServers, insertPostgresServers, seedBenchDatabase } from './seed.js';

export const benchPostgresUrl = process.env.BENCH_PG || 'postgres://postgres@127.0.0.1:5432/postgres';

// The page's columns (the stores' listedFields), and whether a password is stored.
const viewFields = listedFields;
const flags = { hasPassword: 'password_ciphertext IS NOT NULL' };

type Page = (filter: ServerListFilter, page: number, perPage: number) => unknown;

/** null when PostgreSQL answers, else why not. */
export async function postgresUnreachable(url = benchPostgresUrl): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return null;
  } catch (err) {
    return `PostgreSQL at ${redactUrl(url)} is unreachable (${(err as Error).message || (err as NodeJS.ErrnoException).code}); set BENCH_PG or start it`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new database on the bench server, migrated and seeded with `count` servers; dropped by the returned function. */
export async function seedBenchPostgres(count: number): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `relais_bench_${count}_${process.pid}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: benchPostgresUrl });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(benchPostgresUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  await migratePostgres(pool);
  await pool.end();
  await insertPostgresServers(url.toString(), benchServers(count));
  // The seeding's writes (and an earlier part's: the dashboard writes a million rows) flushed now, not by a checkpoint
  // in the middle of the measures. Needs a superuser or pg_checkpoint; without it the bench goes on.
  await admin('CHECKPOINT').catch(() => {});
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function timesOf(page: Page, filters: ServerListFilter[], rounds: number, warmup = 2): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < warmup + rounds; round++) {
    for (const filter of filters) {
      const started = performance.now();
      await page(filter, 1, 50);
      if (round >= warmup) times.push(performance.now() - started);
    }
  }
  return times.sort((a, b) => a - b);
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Listings {
  sqlite: Page;
  postgres: Page;
  close(): Promise<void>;
}

async function listingsOn(file: string, url: string): Promise<Listings> {
  const sqlite = openDatabase(file);
  const onSqlite = createServerListing(
    sqlite.sqlite,
    viewFields,
    () => sqlite.db.select().from(sqliteDepartments).orderBy(asc(sqliteDepartments.position), asc(sqliteDepartments.id)).all(),
    flags,
  );
  const postgres = await openPostgres(url);
  const onPostgres = createPostgresServerListing(postgres.db, viewFields, flags);
  return {
    sqlite: (filter, page, perPage) => onSqlite.page(filter, page, perPage),
    postgres: (filter, page, perPage) => onPostgres.page(filter, page, perPage),
    async close() {
      sqlite.close();
      await postgres.close();
    },
  };
}

/**
 * Rows for the benchmark's table: the list page's query over `small` (SQLite file and PostgreSQL URL seeded alike),
 * and the search queries over `large` when given.
 */
export async function benchListings(queries: string[], small: { file: string; url: string }, large?: { file: string; url: string }): Promise<string[][]> {
  const rows: string[][] = [];
  const list = await listingsOn(small.file, small.url);
  const listFilter = [{ q: 'serveur' }];
  const onSqlite = await timesOf(list.sqlite, listFilter, 300, 30);
  const onPostgres = await timesOf(list.postgres, listFilter, 300, 30);
  await list.close();
  const mean = (times: number[]) => times.reduce((a, b) => a + b, 0) / times.length;
  rows.push(
    ['list page\'s query, search over 10,000 servers, 50 a page — SQLite', `${Math.round(1000 / mean(onSqlite))} /s`, `mean ${mean(onSqlite).toFixed(2)} ms, p95 ${percentile(onSqlite, 95).toFixed(2)} ms`],
    [
      '  same on PostgreSQL',
      `${Math.round(1000 / mean(onPostgres))} /s`,
      `mean ${mean(onPostgres).toFixed(2)} ms, p95 ${percentile(onPostgres, 95).toFixed(2)} ms; ${((mean(onSqlite) / mean(onPostgres)) * 100).toFixed(0)} % of SQLite's query (in process, one at a time; the goal is the page's, above)`,
    ],
  );
  if (large) {
    const search = await listingsOn(large.file, large.url);
    const filters = queries.map((q) => ({ q }));
    for (const [store, page] of [
      ['SQLite', search.sqlite],
      ['PostgreSQL', search.postgres],
    ] as const) {
      const times = await timesOf(page, filters, 20);
      rows.push([
        `search over 100,000 servers, listing call on ${store} (${times.length} searches)`,
        `p95 ${percentile(times, 95).toFixed(1)} ms`,
        `p50 ${percentile(times, 50).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms${store === 'PostgreSQL' ? '; goal p95 ≤ 30 ms' : ''}`,
      ]);
    }
    await search.close();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const unreachable = await postgresUnreachable();
  if (unreachable) {
    console.log(`skipped: ${unreachable}`);
    process.exit(0);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-bench-listing-'));
  const queries = ['vente', 'paris', 'smtp', 'élodie', 'orange.fr', 'serveur 123', 'lyon achat', 'gandi', 'production 77', 'zzz'];
  try {
    const small = { file: path.join(work, 'list-10k.sqlite'), ...(await seedBenchPostgres(10_000)) };
    const large = { file: path.join(work, 'search-100k.sqlite'), ...(await seedBenchPostgres(100_000)) };
    seedBenchDatabase(small.file, 10_000);
    seedBenchDatabase(large.file, 100_000);
    try {
      for (const [what, value, note] of await benchListings(queries, small, large)) console.log(`${what!.padEnd(72)} ${value!.padStart(14)}   ${note}`);
    } finally {
      await small.drop();
      await large.drop();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
