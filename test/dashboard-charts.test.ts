// The dashboard's SVG charts: well-formed for an empty history, one day and a busy one (many departments and hours),
// their bars and points as many as the numbers in the tables; on the page, over a history written through the stores.
import fs from 'node:fs';
import pg from 'pg';
import t from 'tap';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { formatDuration, hourlyChart, latencyChart } from '../src/dashboard/charts.js';
import { bucketOf, dayMs, hourMs, hourOf, quantileOf } from '../src/dashboard/latency.js';
import type { Counts, LatencyDay } from '../src/dashboard/service.js';
import { translator } from '../src/i18n/index.js';
import { viewerClient } from './helper.js';
import { outboxApp } from './outbox-helpers.js';
import { forEachStore } from './stores.js';

t.setTimeout(600_000);

const tr = translator('fr') as unknown as (key: string, params?: Record<string, string | number>) => string;

/** Parses an SVG (throws on the first XML error); its elements by name, and its root's attributes. */
function svgOf(svg: string) {
  const parser = new SaxesParser({ xmlns: true });
  const elements: SaxesTagNS[] = [];
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (tag) => elements.push(tag as SaxesTagNS));
  parser.write(svg).close();
  const root = elements[0]!;
  const count = (name: string) => elements.filter((e) => e.local === name).length;
  const attr = (e: SaxesTagNS, name: string) => (e.attributes[name] as { value: string } | undefined)?.value;
  return { root, elements, count, attr };
}

const now = Date.UTC(2026, 11, 1, 15, 30);
const hoursFrom = (counts: (i: number) => Counts, n = 48) =>
  Array.from({ length: n }, (_, i) => ({ hour: new Date(hourOf(now) - (n - 1 - i) * hourMs), counts: counts(i) }));
const none = (): Counts => ({ accepted: 0, sent: 0, retried: 0, failed: 0 });
const hourLabel = (d: Date) => d.toISOString().slice(11, 16);

t.test('an empty history: a well-formed chart that says so, no bars', async (t) => {
  const svg = svgOf(hourlyChart({ id: 'h-vente', title: 'Vente', hours: hoursFrom(none), hourLabel, t: tr }));
  t.equal(svg.root.local, 'svg');
  t.equal(svg.root.uri, 'http://www.w3.org/2000/svg');
  t.equal(svg.attr(svg.root, 'role'), 'img');
  t.equal(svg.attr(svg.root, 'aria-labelledby'), 'h-vente-title h-vente-desc');
  t.equal(svg.count('rect'), 3, 'only the patterns’ tiles');
  const latency = svgOf(latencyChart({ id: 'l', title: 'Délai', days: Array.from({ length: 14 }, (_, i) => ({ day: new Date(i * dayMs), delivered: 0, p50Ms: null, p95Ms: null })), dayLabel: hourLabel, locale: 'fr', t: tr }));
  t.equal(latency.count('circle') + latency.count('polyline'), 0);
});

t.test('one day: one stacked bar per busy hour and outcome, the accepted ones as ticks, the labels in French', async (t) => {
  const hours = hoursFrom((i) => (i >= 40 ? { accepted: 5, sent: 3, retried: 1, failed: 1 } : none()));
  const markup = hourlyChart({ id: 'h', title: 'Messages par heure de Vente', hours, hourLabel, t: tr });
  const svg = svgOf(markup);
  t.equal(svg.count('rect'), 3 + 8 * 3, 'eight busy hours, three outcomes each');
  const ticks = /<g stroke="#000000" stroke-width="2">(.*?)<\/g>/.exec(markup)?.[1] ?? '';
  t.equal(ticks.match(/<line /g)?.length, 8, 'a tick per hour with accepted messages');
  t.match(markup, /<title id="h-title">Messages par heure de Vente<\/title>/);
  t.match(markup, /<desc id="h-desc">40 messages acceptés en 48 heures/);
  const days: LatencyDay[] = [{ day: new Date(dayMs * 10), delivered: 3, p50Ms: 850, p95Ms: 4200 }];
  const latency = svgOf(latencyChart({ id: 'l', title: 'Délai de remise', days, dayLabel: hourLabel, locale: 'fr', t: tr }));
  t.equal(latency.count('circle'), 1, 'p50: a circle');
  t.equal(latency.count('rect'), 1, 'p95: a square');
  t.equal(formatDuration(4200, 'fr'), '4,2 s');
  t.equal(formatDuration(850, 'en'), '850 ms');
});

t.test('a busy history: twelve departments over 48 hours, every chart well-formed, bars as many as the non-zero counts', async (t) => {
  for (let d = 0; d < 12; d++) {
    const hours = hoursFrom((i) => ({ accepted: 100 + i * d, sent: 90 + i, retried: (i + d) % 3, failed: (i * d) % 5 }));
    const svg = svgOf(hourlyChart({ id: `h${d}`, title: `Service ${d}`, hours, hourLabel, t: tr }));
    const bars = hours.reduce((sum, { counts }) => sum + [counts.sent, counts.retried, counts.failed].filter((n) => n > 0).length, 0);
    t.equal(svg.count('rect') - 3, bars, `service ${d}`);
    const tops = svg.elements.filter((e) => e.local === 'rect' && svg.attr(e, 'height') !== '6').map((e) => Number(svg.attr(e, 'y')));
    t.ok(tops.every((y) => y >= 12 - 0.05), 'no bar above the plot');
  }
  const days = Array.from({ length: 14 }, (_, i) => ({ day: new Date(i * dayMs), delivered: 1000, p50Ms: 200 + i * 10, p95Ms: 3000 + i * 500 }));
  const latency = svgOf(latencyChart({ id: 'l', title: 'Délai', days, dayLabel: hourLabel, locale: 'fr', t: tr }));
  t.equal(latency.count('circle'), 14);
  t.equal(latency.count('polyline'), 2);
});

t.test('percentiles read from the log-scale buckets stay within 3 % of the exact ones', async (t) => {
  const latencies = Array.from({ length: 10_000 }, (_, i) => 50 + ((i * 7919) % 10_000) * 3);
  const histogram = new Map<number, number>();
  for (const ms of latencies) histogram.set(bucketOf(ms), (histogram.get(bucketOf(ms)) ?? 0) + 1);
  const sorted = [...latencies].sort((a, b) => a - b);
  for (const q of [0.5, 0.95]) {
    const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
    const read = quantileOf(histogram, q)!;
    t.ok(Math.abs(read - exact) / exact < 0.03, `p${q * 100}: ${read.toFixed(0)} vs ${exact}`);
  }
  t.equal(quantileOf(new Map(), 0.5), null);
});

await forEachStore(t, 'the page over a busy history written through the stores: every SVG parses, the tables hold what was written', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const codes = ['achat', 'vente', 'production'];
  for (let d = 0; d < 5; d++) {
    const department = await app.stores.departments.insert({ code: `service-${d}`, name: `Service ${d}` });
    codes.push(department.code);
  }
  const current = hourOf(Date.now());
  const expected = new Map<string, { accepted: number; sent: number; failed: number }>();
  let n = 0;
  const owner = 'seed';
  const sentSubjects = new Set<string>();
  for (const [d, code] of codes.entries()) {
    for (let h = 0; h < 30; h += 1 + (d % 3)) {
      const acceptedAt = new Date(current - h * hourMs + 1000);
      const ids: { id: number; sent: boolean }[] = [];
      for (let k = 0; k < 1 + ((d + h) % 3); k++) {
        const row = await app.stores.outbox.insert({
          publicId: `seed-${n++}`,
          department: code,
          pinnedServerId: null,
          origin: { kind: 'token', id: 1, name: 'ERP' },
          to: ['client@exemple.fr'],
          cc: [],
          bcc: [],
          replyTo: null,
          subject: `Message ${n}`,
          text: 'Bonjour',
          html: null,
          attachments: [],
          messageId: `<seed-${n}@relais.test>`,
          idempotencyKey: null,
          bodyHash: null,
          searchText: `message ${n}`,
          acceptedAt,
        });
        if (k % 2 === 0) sentSubjects.add(`Message ${n}`);
        ids.push({ id: Number(row.id), sent: k % 2 === 0 });
      }
      const key = `${code}|${new Date(hourOf(acceptedAt)).toISOString()}`;
      expected.set(key, { accepted: ids.length, sent: ids.filter((i) => i.sent).length, failed: ids.filter((i) => !i.sent).length });
    }
  }
  // Claimed and settled as a worker does, in one group: sent a second after acceptance, or failed.
  const claimedAt = new Date();
  const claimed = await app.stores.outbox.claim(owner, claimedAt, new Date(claimedAt.getTime() + 60_000), 10_000);
  t.equal(claimed.length, n);
  await app.stores.transaction((tx) =>
    tx.outbox.settleMany(
      owner,
      claimed.map((c) => {
        const sent = sentSubjects.has(c.subject);
        return {
          id: c.id,
          settlement: {
            status: sent ? 'sent' : 'failed',
            dueAt: null,
            attemptCount: 1,
            roundCount: 0,
            triedServerIds: [],
            stickyServerId: null,
            pendingRecipients: null,
            refusedRecipients: null,
            lastServerId: null,
            lastServerTitle: null,
            lastReply: sent ? '250 Ok' : '550 No',
            sentAt: sent ? new Date(c.acceptedAt.getTime() + 1000) : null,
            attempts: [],
          },
        };
      }),
      claimedAt,
    ),
  );

  const viewer = await viewerClient(app);
  const page = await viewer.get('/tableau-de-bord');
  t.equal(page.statusCode, 200);
  const svgs = page.body.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  t.equal(svgs.length, codes.length + 1 + 4 + 2);
  for (const svg of svgs) svgOf(svg);
  for (const [key, counts] of expected) {
    const [code, hour] = key.split('|');
    const start = page.body.indexOf(`data-chart="hourly" data-department="${code}"`);
    const block = page.body.slice(start, page.body.indexOf('</figure>', start));
    const row = new RegExp(`<tr data-hour="${hour}">([\\s\\S]*?)</tr>`).exec(block)?.[1] ?? '';
    const cell = (o: string) => Number(new RegExp(`<td data-outcome="${o}"><a [^>]*>(\\d+)</a>`).exec(row)?.[1]);
    t.same({ accepted: cell('accepted'), sent: cell('sent'), failed: cell('failed') }, counts, key);
  }
  const latencyDay = new RegExp(`<tr data-day="${new Date(current - (current % dayMs)).toISOString()}">\\s*<th scope="row">[^<]*</th>\\s*<td><a [^>]*>(\\d+)</a></td>\\s*<td>([^<]+)</td>`).exec(page.body);
  t.ok(latencyDay, 'today in the latency table');
  t.match(latencyDay?.[2], /^1 s$|^1,0 s$/, 'a second from acceptance to delivery');

  // The migration's backfill (messages logged before the dashboard) counts the same as the outbox did, row for row.
  const kept = async () => ({
    hourly: (await app.stores.dashboard.hourly(new Date(0))).map((r) => `${r.department}|${r.hour.getTime()}|${r.outcome}|${r.count}`).sort(),
    latency: (await app.stores.dashboard.latency(new Date(0))).map((r) => `${r.day.getTime()}|${r.bucket}|${r.count}`).sort(),
  });
  const before = await kept();
  t.ok(before.hourly.length > 50 && before.latency.length > 0);
  const folder = new URL(`../migrations/${store.kind}/`, import.meta.url);
  const migrationFile = fs.readdirSync(folder).find((name) => name.endsWith('_dashboard-counts.sql'));
  const migration = fs.readFileSync(new URL(String(migrationFile), folder), 'utf8');
  const backfill = migration.split('--> statement-breakpoint').filter((statement) => /^\s*(--[^\n]*\n)*\s*INSERT INTO/i.test(statement));
  t.equal(backfill.length, 2, 'two backfill statements');
  if (store.kind === 'sqlite') {
    const db = (app as unknown as { database: { sqlite: import('better-sqlite3').Database } }).database.sqlite;
    db.exec('DELETE FROM dashboard_hourly_counts; DELETE FROM dashboard_latency_counts;');
    for (const statement of backfill) db.exec(statement);
  } else {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      await client.query('DELETE FROM dashboard_hourly_counts; DELETE FROM dashboard_latency_counts;');
      for (const statement of backfill) await client.query(statement);
    } finally {
      await client.end();
    }
  }
  t.same(await kept(), before, 'the backfill gives the counts the outbox kept');
});
