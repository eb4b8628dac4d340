// The dashboard's reads summed in the database (per-hour series, 24 h / 7 d totals, latency percentiles) against a
// brute-force reading of the same counter rows, random ones, on both stores; the hourly table's rows as logLink writes
// the links.
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { dayMs, hourMs, quantileBucketOf, quantileBucketsOfSorted } from '../src/dashboard/latency.js';
import { outcomes, type Outcome } from '../src/dashboard/store.js';
import { hourlyTableRows, logLink, xmlEscape } from '../src/dashboard/tables.js';
import { testConfig } from './helper.js';
import { forEachStore } from './stores.js';

/** A small deterministic generator (mulberry32): the same rows at every run. */
function randomFrom(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('quantileBucketsOfSorted reads a histogram as quantileBucketOf does', async (t) => {
  const random = randomFrom(7);
  for (let round = 0; round < 500; round++) {
    const buckets: number[] = [];
    const counts: number[] = [];
    for (let bucket = Math.floor(random() * 20); bucket < 200; bucket += 1 + Math.floor(random() * 6)) {
      buckets.push(bucket);
      // Zeros and the odd negative (a counter taken back) are skipped by both.
      counts.push(random() < 0.2 ? 0 : random() < 0.03 ? -1 : Math.floor(random() * (round % 3 === 0 ? 3 : 400)));
    }
    const histogram = new Map(buckets.map((bucket, i) => [bucket, counts[i]!]));
    const qs = [0.5, 0.95, 0.99, 1];
    t.same(quantileBucketsOfSorted(buckets, counts, qs), qs.map((q) => quantileBucketOf(histogram, q)), `round ${round}`);
  }
  t.same(quantileBucketsOfSorted([], [], [0.5]), [null]);
  t.same(quantileBucketsOfSorted([3, 4], [0, 0], [0.5, 0.95]), [null, null]);
});

t.test('the hourly table rows: the links logLink writes, escaped as the templates escape', async (t) => {
  const hour = new Date(Date.UTC(2026, 11, 1, 14));
  const quiet = new Date(hour.getTime() + hourMs);
  const counts = { accepted: 1234, sent: 1200, retried: 0, failed: 34 };
  const html = hourlyTableRows({
    department: 'r-et-d',
    hours: [
      { hour, counts },
      { hour: quiet, counts: { accepted: 0, sent: 0, retried: 0, failed: 0 } },
    ],
    hourText: () => '01/12/2026 15:00 <b>',
    numberText: (n) => `#${n}`,
  });
  const cells = outcomes
    .map((o) => `<td data-outcome="${o}"><a href="${xmlEscape(logLink({ department: 'r-et-d', outcome: o, since: hour, until: quiet }))}">#${counts[o]}</a></td>`)
    .join('');
  t.equal(html, `<tr data-hour="${hour.toISOString()}">\n<th scope="row">01/12/2026 15:00 &lt;b&gt;</th>\n${cells}</tr>\n`, 'one row: the quiet hour is left out');
  t.match(html, 'href="/messages?retried=1&amp;department=r-et-d&amp;since=2026-12-01T14%3A00Z&amp;until=2026-12-01T15%3A00Z"', 'retried: every message retried at least once');
  t.match(html, 'href="/messages?status=failed&amp;department=r-et-d&amp;since=2026-12-01T14%3A00Z&amp;until=2026-12-01T15%3A00Z"');
});

forEachStore(t, 'the dashboard reads summed in the database', async (t, store) => {
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : os.tmpdir();
  const app = await buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb }), { logger: false });
  t.teardown(() => app.close());
  const random = randomFrom(store.kind === 'sqlite' ? 11 : 13);
  const departments = ['achat', 'vente', 'production', 'r-et-d'];
  const now = Date.UTC(2026, 11, 1, 15, 30);
  const currentHour = now - (now % hourMs);
  const today = now - (now % dayMs);

  // Counter rows over ten days of hours and twenty days of latencies, some outside every window, zeros among them.
  const hourly: { department: string; hour: number; outcome: Outcome; count: number }[] = [];
  for (let h = -240; h <= 2; h++)
    for (const department of departments)
      for (const outcome of outcomes) {
        if (random() < 0.45) continue;
        hourly.push({ department, hour: currentHour + h * hourMs, outcome, count: random() < 0.1 ? 0 : Math.floor(random() * 500) });
      }
  const latency: { department: string; day: number; bucket: number; count: number }[] = [];
  for (let d = -20; d <= 0; d++) {
    // Some days with nothing delivered, some with one bucket, most with many.
    const shape = random();
    if (d === -4) {
      // A day whose only rows are zeros: counted as delivered none, no percentile.
      for (let bucket = 60; bucket < 70; bucket++) latency.push({ department: 'achat', day: today + d * dayMs, bucket, count: 0 });
      continue;
    }
    for (const department of departments)
      for (let bucket = 60; bucket < 200; bucket++) {
        if (shape < 0.1 || (shape < 0.2 && bucket !== 100) || random() < 0.6) continue;
        latency.push({ department, day: today + d * dayMs, bucket, count: random() < 0.1 ? 0 : 1 + Math.floor(random() * (shape < 0.3 ? 2 : 300)) });
      }
  }

  if (store.kind === 'sqlite') {
    const db = (app as unknown as { database: { sqlite: import('better-sqlite3').Database } }).database.sqlite;
    const insertHour = db.prepare(`INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count) VALUES (?, ?, ?, ?)`);
    const insertLatency = db.prepare(`INSERT INTO dashboard_latency_counts (department_code, day, bucket, count) VALUES (?, ?, ?, ?)`);
    db.transaction(() => {
      for (const r of hourly) insertHour.run(r.department, r.hour, r.outcome, r.count);
      for (const r of latency) insertLatency.run(r.department, r.day, r.bucket, r.count);
    })();
  } else {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[])`,
        [hourly.map((r) => r.department), hourly.map((r) => r.hour), hourly.map((r) => r.outcome), hourly.map((r) => r.count)],
      );
      await client.query(
        `INSERT INTO dashboard_latency_counts (department_code, day, bucket, count) SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[])`,
        [latency.map((r) => r.department), latency.map((r) => r.day), latency.map((r) => r.bucket), latency.map((r) => r.count)],
      );
    } finally {
      await client.end();
    }
  }
  const dashboard = app.stores.dashboard;

  for (const sinceHours of [47, 0, 300]) {
    const since = currentHour - sinceHours * hourMs;
    const expected = new Map<string, Record<Outcome, number>>();
    for (const r of hourly) {
      if (r.hour < since) continue;
      const key = `${r.department}|${r.hour}`;
      const row = expected.get(key) ?? { accepted: 0, sent: 0, retried: 0, failed: 0 };
      row[r.outcome] += r.count;
      expected.set(key, row);
    }
    const series = await dashboard.hourSeries(new Date(since));
    t.same(new Map(series.map((r) => [`${r.department}|${r.hour}`, { accepted: r.accepted, sent: r.sent, retried: r.retried, failed: r.failed }])), expected, `the series from ${sinceHours} h back`);
    t.equal(series.length, expected.size, 'one row per department and hour');
    t.same(series.map((r) => r.hour), [...series.map((r) => r.hour)].sort((a, b) => a - b), 'oldest first');
  }

  const daySince = currentHour - 23 * hourMs;
  const weekSince = currentHour - 167 * hourMs;
  const totals = new Map<string, { day: number; week: number }>();
  for (const r of hourly) {
    if (r.hour < weekSince) continue;
    const key = `${r.department}|${r.outcome}`;
    const total = totals.get(key) ?? { day: 0, week: 0 };
    total.week += r.count;
    if (r.hour >= daySince) total.day += r.count;
    totals.set(key, total);
  }
  const read = await dashboard.totals(new Date(daySince), new Date(weekSince));
  t.same(new Map(read.map((r) => [`${r.department}|${r.outcome}`, { day: r.day, week: r.week }])), totals, 'the 24 h and 7 d totals');

  for (const sinceDays of [13, 0, 30]) {
    const since = today - sinceDays * dayMs;
    const histograms = new Map<number, Map<number, number>>();
    for (const r of latency) {
      if (r.day < since) continue;
      const histogram = histograms.get(r.day) ?? new Map<number, number>();
      histogram.set(r.bucket, (histogram.get(r.bucket) ?? 0) + r.count);
      histograms.set(r.day, histogram);
    }
    const expected = [...histograms.entries()]
      .sort(([a], [b]) => a - b)
      .map(([day, histogram]) => ({
        day: new Date(day),
        delivered: [...histogram.values()].reduce((sum, n) => sum + n, 0),
        p50Bucket: quantileBucketOf(histogram, 0.5),
        p95Bucket: quantileBucketOf(histogram, 0.95),
      }));
    const quantiles = await dashboard.latencyQuantiles(new Date(since));
    t.same(quantiles, expected, `the latency percentiles from ${sinceDays} days back`);
    if (sinceDays === 13) t.ok(expected.some((d) => d.p50Bucket === null) && expected.some((d) => d.p50Bucket !== null), 'empty and busy days among them');
  }
});
