// The Tableau de bord over 1,000,000 logged messages (BENCH_DASHBOARD_MESSAGES), beside the server list page over
// 10,000 servers measured in the same run: the goal is a dashboard answering in at most twice the list's time.
// The messages are written with bulk SQL on SQLite (the outbox's accept trigger counts them as they land) and their
// outcomes counted by the outbox store's own helper, as the worker's settle does; the page then reads the counts only.
//   benchDashboard(helpers, listFile)   (from bench/run.ts; BENCH_SKIP_DASHBOARD=1 skips it)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dashboardOf } from '../src/dashboard/service.js';
import { openDatabase } from '../src/db/sqlite/client.js';
import { createSqliteDashboardCounters } from '../src/db/sqlite/dashboard.js';
import { createSqliteStores } from '../src/db/sqlite/stores.js';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { openPostgres } from '../src/db/postgres/client.js';
import { countSettled } from '../src/db/postgres/dashboard.js';
import { createPostgresStores } from '../src/db/postgres/stores.js';
import type { Stores } from '../src/db/stores.js';
import { percentile, postgresUnreachable, seedBenchPostgres } from './listing.js';
import { seedBenchDatabase } from './seed.js';

const messageCount = Number(process.env.BENCH_DASHBOARD_MESSAGES) || 1_000_000;

/** `count` messages over the last 14 days in the three departments: 2 % failed, 1 % waiting for a retry, the rest sent. */
export function seedBenchMessages(file: string, count: number, now = Date.now()): void {
  const handle = openDatabase(file);
  try {
    const span = 14 * 86_400_000;
    handle.sqlite.exec('BEGIN');
    handle.sqlite
      .prepare(
        `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < @count)
         INSERT INTO outbox_messages (public_id, department_code, origin_kind, origin_id, origin_name, to_addresses, subject, message_id, status,
           attempt_count, round_count, search_text, accepted_at, updated_at, sent_at, last_reply)
         SELECT 'bench-' || i, CASE i % 3 WHEN 0 THEN 'achat' WHEN 1 THEN 'vente' ELSE 'production' END, 'token', 1, 'ERP',
           '["client' || (i % 997) || '@exemple.fr"]', 'Devis ' || i, '<bench-' || i || '@relais.test>',
           CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'retry' ELSE 'sent' END, 1, 0, 'client devis ' || i,
           @now - (i * @span / @count), @now - (i * @span / @count) + 1000,
           CASE WHEN i % 50 = 0 OR i % 97 = 0 THEN NULL ELSE @now - (i * @span / @count) + 150 + (i * 7919) % 4000 END,
           CASE WHEN i % 50 = 0 THEN '550 5.1.1 No such user' ELSE '250 2.0.0 Ok' END
         FROM seq`,
      )
      .run({ count, now, span });
    // Those waiting for a retry are past their first round: counted « retried » as a settle makes them (a trigger).
    handle.sqlite.exec("UPDATE outbox_messages SET round_count = 1 WHERE status = 'retry'");
    // Counted as the worker's settle counts them: the outbox store's helper, a group of messages at a time.
    const counters = createSqliteDashboardCounters(handle.sqlite);
    const ids = handle.sqlite.prepare(`SELECT id FROM outbox_messages WHERE id > ? ORDER BY id LIMIT 20000`).pluck();
    for (let last = 0; ; ) {
      const batch = ids.all(last) as number[];
      if (batch.length === 0) break;
      counters.recordSettled(batch);
      last = batch[batch.length - 1]!;
    }
    handle.sqlite.exec('COMMIT');
    handle.sqlite.exec('ANALYZE');
  } finally {
    handle.close();
  }
}

/** The same messages on PostgreSQL (one INSERT … SELECT over generate_series; the accept trigger counts them per statement). */
export async function seedBenchPostgresMessages(url: string, count: number, now = Date.now()): Promise<void> {
  const span = 14 * 86_400_000;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO outbox_messages (public_id, department_code, origin_kind, origin_id, origin_name, to_addresses, subject, message_id, status,
         attempt_count, round_count, search_text, accepted_at, updated_at, sent_at, last_reply)
       SELECT 'bench-' || i, CASE i % 3 WHEN 0 THEN 'achat' WHEN 1 THEN 'vente' ELSE 'production' END, 'token', 1, 'ERP',
         '["client' || (i % 997) || '@exemple.fr"]', 'Devis ' || i, '<bench-' || i || '@relais.test>',
         CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'retry' ELSE 'sent' END, 1, 0, 'client devis ' || i,
         $2::bigint - (i * $3::bigint / $1), $2::bigint - (i * $3::bigint / $1) + 1000,
         CASE WHEN i % 50 = 0 OR i % 97 = 0 THEN NULL ELSE $2::bigint - (i * $3::bigint / $1) + 150 + (i * 7919) % 4000 END,
         CASE WHEN i % 50 = 0 THEN '550 5.1.1 No such user' ELSE '250 2.0.0 Ok' END
       FROM generate_series(1, $1::bigint) AS i`,
      [count, now, span],
    );
    await client.query("UPDATE outbox_messages SET round_count = 1 WHERE status = 'retry'");
  } finally {
    await client.end();
  }
  const handle = await openPostgres(url);
  try {
    // Counted as the worker's settle counts them, 20,000 rows a statement.
    for (let last = 0; ; ) {
      const { rows } = await handle.db.execute<{ last: string | null }>(sql`
        WITH settled AS (SELECT id, department_code, accepted_at, sent_at, status FROM outbox_messages WHERE id > ${last} ORDER BY id LIMIT 20000),
        ${countSettled}
        SELECT max(id) AS last FROM settled`);
      if (rows[0]?.last == null) break;
      last = Number(rows[0].last);
    }
    await handle.db.execute(sql`VACUUM ANALYZE outbox_messages, dashboard_hourly_counts, dashboard_latency_counts`);
  } finally {
    await handle.close();
  }
}

async function readTimes(stores: Stores): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < 220; round++) {
    const begun = performance.now();
    await dashboardOf(stores);
    if (round >= 20) times.push(performance.now() - begun);
  }
  return times.sort((a, b) => a - b);
}

export interface BenchHelpers {
  start(script: string, env: Record<string, string>): Promise<{ child: import('node:child_process').ChildProcess; address: string }>;
  stop(child: import('node:child_process').ChildProcess): Promise<void>;
  browserCookies(base: string): Promise<string>;
  browserHeaders(cookie: string): Record<string, string>;
  load(url: string, headers?: Record<string, string>): Promise<{ requests: { average: number }; latency: { mean: number; p50: number; p99: number } }>;
  relaisEnv(file: string): Record<string, string>;
}

/**
 * Rows for the benchmark's table. The list page (over `listFile`, the run's 10,000 servers) and the dashboard are
 * loaded in turn, three times each, so a machine busy with something else slows both alike.
 */
export async function benchDashboard(helpers: BenchHelpers, listFile: string): Promise<string[][]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-bench-dashboard-'));
  try {
    const file = path.join(work, 'dashboard-1m.sqlite');
    const seeded = performance.now();
    seedBenchDatabase(file, 12);
    seedBenchMessages(file, messageCount);
    const seedSeconds = (performance.now() - seeded) / 1000;
    const pages: Awaited<ReturnType<BenchHelpers['load']>>[] = [];
    const pgPages: Awaited<ReturnType<BenchHelpers['load']>>[] = [];
    const lists: Awaited<ReturnType<BenchHelpers['load']>>[] = [];
    const times: number[] = [];
    const pgTimes: number[] = [];

    // PostgreSQL too when it answers (BENCH_PG): the same messages, its page loaded in the same turns.
    const unreachable = await postgresUnreachable();
    const onPg = unreachable ? null : await seedBenchPostgres(12);
    const pgSeeded = performance.now();
    if (onPg) await seedBenchPostgresMessages(onPg.url, messageCount);
    const pgSeedSeconds = (performance.now() - pgSeeded) / 1000;
    try {
      const dashboardRelais = await helpers.start('serve.ts', helpers.relaisEnv(file));
      const listRelais = await helpers.start('serve.ts', helpers.relaisEnv(listFile));
      const pgRelais = onPg ? await helpers.start('serve.ts', helpers.relaisEnv(onPg.url)) : null;
      const dashboardHeaders = helpers.browserHeaders(await helpers.browserCookies(dashboardRelais.address));
      const listHeaders = helpers.browserHeaders(await helpers.browserCookies(listRelais.address));
      const pgHeaders = pgRelais ? helpers.browserHeaders(await helpers.browserCookies(pgRelais.address)) : {};
      for (let round = 0; round < 3; round++) {
        lists.push(await helpers.load(`${listRelais.address}/smtp-servers?q=serveur&per=50`, listHeaders));
        pages.push(await helpers.load(`${dashboardRelais.address}/tableau-de-bord`, dashboardHeaders));
        if (pgRelais) pgPages.push(await helpers.load(`${pgRelais.address}/tableau-de-bord`, pgHeaders));
      }
      await helpers.stop(dashboardRelais.child);
      await helpers.stop(listRelais.child);
      if (pgRelais) await helpers.stop(pgRelais.child);

      // The reads alone, in this process: what the page asks the stores for, without HTTP, rendering or compression.
      const handle = openDatabase(file);
      const stores = createSqliteStores(handle);
      times.push(...(await readTimes(stores)));
      await stores.close();
      if (onPg) {
        const pgStores = createPostgresStores(await openPostgres(onPg.url));
        pgTimes.push(...(await readTimes(pgStores)));
        await pgStores.close();
      }
    } finally {
      await onPg?.drop();
    }
    const mean = (results: typeof pages, f: (r: (typeof pages)[number]) => number) => results.reduce((sum, r) => sum + f(r), 0) / results.length;

    const pageMean = mean(pages, (r) => r.latency.mean);
    const listMean = mean(lists, (r) => r.latency.mean);
    const pgRows = pgPages.length
      ? [
          [`dashboard page on PostgreSQL, same messages (seeded in ${pgSeedSeconds.toFixed(1)} s)`, `${Math.round(mean(pgPages, (r) => r.requests.average))} req/s`, `mean ${mean(pgPages, (r) => r.latency.mean).toFixed(1)} ms; ${(mean(pgPages, (r) => r.latency.mean) / listMean).toFixed(2)}× the list page`],
          ['  of which the stores’ reads on PostgreSQL (in process)', `p95 ${percentile(pgTimes, 95).toFixed(2)} ms`, `p50 ${percentile(pgTimes, 50).toFixed(2)} ms, max ${pgTimes.at(-1)!.toFixed(2)} ms`],
        ]
      : [['dashboard on PostgreSQL', 'skipped', unreachable ?? '']];
    return [
      [`dashboard page over ${messageCount.toLocaleString('en')} messages (seeded in ${seedSeconds.toFixed(1)} s)`, `${Math.round(mean(pages, (r) => r.requests.average))} req/s`, `mean ${pageMean.toFixed(1)} ms (rounds ${pages.map((r) => r.latency.mean.toFixed(0)).join(', ')} ms)`],
      ['  list page over 10,000 servers, loaded in turn with it', `${Math.round(mean(lists, (r) => r.requests.average))} req/s`, `mean ${listMean.toFixed(1)} ms (rounds ${lists.map((r) => r.latency.mean.toFixed(0)).join(', ')} ms)`],
      ['  ratio dashboard / list page (mean latency)', `${(pageMean / listMean).toFixed(2)}×`, 'goal ≤ 2×'],
      ['  of which the stores’ reads (counts, routes, servers; in process)', `p95 ${percentile(times, 95).toFixed(2)} ms`, `p50 ${percentile(times, 50).toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`],
      ...pgRows,
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
