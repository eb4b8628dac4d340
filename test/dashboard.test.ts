// The Tableau de bord on the real app and both stores: its counts, kept as the worker settles messages sent through real
// SMTP peers, equal the send log's; routes with backups and states; links to the filtered log and the servers' pages.
import fs from 'node:fs';
import pg from 'pg';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { SaxesParser } from 'saxes';
import { hourOf } from '../src/dashboard/latency.js';
import { adminClient, viewerClient, type Client } from './helper.js';
import { apiOrigin, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore } from './stores.js';

t.setTimeout(600_000);

async function accept(app: FastifyInstance, department: string, subject: string, to = ['client@exemple.fr']) {
  const outcome = await app.outbox.accept(message({ department, subject, to }), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
  return outcome.message;
}

function refusingPeer(t: Test, code: number, text: string) {
  return startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error(text), { responseCode: code }));
    },
  });
}

const decode = (s: string) => s.replace(/&amp;/g, '&').replace(/&#38;/g, '&');

/** The hourly text table of a department: hour (ISO) → outcome → { count, href }. */
function hourlyTable(html: string, department: string) {
  const start = html.indexOf(`data-chart="hourly" data-department="${department}"`);
  if (start < 0) throw new Error(`no hourly chart for ${department}`);
  const block = html.slice(start, html.indexOf('</figure>', start));
  const rows = new Map<string, Map<string, { count: number; href: string }>>();
  for (const row of block.matchAll(/<tr data-hour="([^"]+)">([\s\S]*?)<\/tr>/g)) {
    const cells = new Map<string, { count: number; href: string }>();
    for (const cell of row[2]!.matchAll(/<td data-outcome="(\w+)"><a href="([^"]+)">([\d\s\u202f.,]+)<\/a><\/td>/g)) {
      cells.set(cell[1]!, { count: Number(cell[3]!.replace(/\D/g, '')), href: decode(cell[2]!) });
    }
    rows.set(row[1]!, cells);
  }
  return { rows, block };
}

/** The department card's 24 h / 7 d counts: outcome → window → { count, href }. */
function cardCounts(html: string, department: string) {
  const start = html.indexOf(`<article class="dashboard-card" data-department="${department}">`);
  if (start < 0) throw new Error(`no card for ${department}`);
  const block = html.slice(start, html.indexOf('</article>', start));
  const counts = new Map<string, Map<string, { count: number; href: string }>>();
  for (const row of block.matchAll(/<tr data-outcome="(\w+)">([\s\S]*?)<\/tr>/g)) {
    const cells = new Map<string, { count: number; href: string }>();
    for (const cell of row[2]!.matchAll(/<td data-window="(\w+)"><a href="([^"]+)">([\d\s\u202f.,]+)<\/a><\/td>/g)) {
      cells.set(cell[1]!, { count: Number(cell[3]!.replace(/\D/g, '')), href: decode(cell[2]!) });
    }
    counts.set(row[1]!, cells);
  }
  return { counts, block };
}

/** The number of messages the send log page says it holds. */
async function logTotal(client: Client, href: string): Promise<number> {
  const page = await client.get(href);
  if (page.statusCode !== 200) throw new Error(`${href}: ${page.statusCode}`);
  const count = /<p class="count" id="messages-count">\s*([^<]*?)\s*<\/p>/.exec(page.body)?.[1] ?? '';
  if (/^0 message/.test(count)) return 0;
  if (/^1 message$/.test(count)) return 1;
  const total = /sur ([\d\s\u202f]+) messages/.exec(count)?.[1];
  if (!total) throw new Error(`no count in ${href}: ${count}`);
  return Number(total.replace(/\D/g, ''));
}

/** The subjects of a send log page's rows, in order. */
async function logSubjects(client: Client, href: string): Promise<string[]> {
  const page = await client.get(href);
  return [...page.body.matchAll(/<th scope="row" class="message-subject"><a href="\/messages\/[^"]+">([^<]*)<\/a>/g)].map((m) => m[1]!);
}

/** Every <svg> of the page parses as XML (saxes throws on the first error); their number. */
export function parseSvgs(html: string): number {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  for (const svg of svgs) {
    const parser = new SaxesParser({ xmlns: true });
    parser.on('error', (err) => {
      throw err;
    });
    parser.write(svg).close();
  }
  return svgs.length;
}

await forEachStore(t, 'the counts kept as messages are sent, retried and failed equal the send log’s, hour by hour and over 24 h', async (t, store) => {
  const good = await startSmtpPeer(t, { authOptional: true });
  const refusing = await refusingPeer(t, 550, 'No such user here');
  const later = await refusingPeer(t, 451, 'Try again later');
  // A 451 is retried after 0.2 s, then after ten minutes: the counts stay still while they are compared.
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_BACKOFF_SECONDS: '0.2,600' });
  const venteId = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: good.port, departments: ['vente'] });
  const achatId = await sendingServerFor(app.stores, { title: 'Achat Paris', port: refusing.port, departments: ['achat'] });
  await sendingServerFor(app.stores, { title: 'Production Nantes', port: later.port, departments: ['production'] });

  const messages = [
    ...(await Promise.all([1, 2, 3].map((i) => accept(app, 'vente', `Devis ${i}`)))),
    ...(await Promise.all([1, 2].map((i) => accept(app, 'achat', `Commande ${i}`)))),
    await accept(app, 'production', 'Avis de fabrication'),
  ];
  const finished = await Promise.all(messages.slice(0, 5).map((m) => until(app, m.id, ['sent', 'failed'], 30_000)));
  t.same(finished.map((m) => m.status), ['sent', 'sent', 'sent', 'failed', 'failed']);
  t.equal((await good.message(3)).mail.subject?.startsWith('Devis'), true, 'the peer received them');
  const deadline = Date.now() + 30_000;
  let production = await until(app, messages[5]!.id, ['retry'], 30_000);
  while (production.attempts.length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    production = (await app.outbox.find(messages[5]!.id))!;
  }
  t.equal(production.status, 'retry');
  t.equal(production.attempts.length, 2, 'two rounds, each ended in a retry');
  const done = [...finished, production];

  // The store's counts, message by message, from what the log says.
  const expected = new Map<string, number>();
  const bump = (department: string, hour: number, outcome: string, n = 1) => {
    const key = `${department}|${hour}|${outcome}`;
    expected.set(key, (expected.get(key) ?? 0) + n);
  };
  for (const m of done) {
    const hour = hourOf(m.acceptedAt);
    bump(m.department, hour, 'accepted');
    // Retried at least once: counted once, however many rounds ended in a retry (two here).
    if (m.status === 'retry') bump(m.department, hour, 'retried');
    else bump(m.department, hour, m.status);
  }
  const kept = await app.stores.dashboard.hourly(new Date(Date.now() - 48 * 3_600_000));
  t.same(new Map(kept.map((row) => [`${row.department}|${row.hour.getTime()}|${row.outcome}`, row.count])), expected, 'one row per department, hour and outcome');
  const delivered = await app.stores.dashboard.latency(new Date(Date.now() - 14 * 86_400_000));
  t.equal(delivered.reduce((sum, row) => sum + row.count, 0), 3, 'three delivery latencies');

  const viewer = await viewerClient(app);
  const page = await viewer.get('/tableau-de-bord');
  t.equal(page.statusCode, 200);
  t.ok(parseSvgs(page.body) >= 4, 'every chart and swatch is well-formed SVG');

  // The text table beside the chart: the same numbers as the send log filtered by department, status and hour.
  for (const department of ['vente', 'achat', 'production']) {
    const { rows } = hourlyTable(page.body, department);
    const hours = [...new Set(done.filter((m) => m.department === department).map((m) => hourOf(m.acceptedAt)))];
    t.same([...rows.keys()].sort(), hours.map((h) => new Date(h).toISOString()).sort(), `${department}: the busy hours`);
    for (const [hour, cells] of rows) {
      for (const outcome of ['accepted', 'sent', 'failed', 'retried']) {
        const cell = cells.get(outcome)!;
        t.equal(cell.count, expected.get(`${department}|${Date.parse(hour)}|${outcome}`) ?? 0, `${department} ${hour} ${outcome}`);
        t.match(cell.href, new RegExp(`^/messages\\?.*department=${department}.*since=.*until=`));
        t.equal(await logTotal(viewer, cell.href), cell.count, `${department} ${outcome}: the log holds as many`);
      }
    }
  }

  // The card's 24 h and 7 d counts, each a link to the log that holds as many.
  const vente = cardCounts(page.body, 'vente');
  t.equal(vente.counts.get('sent')!.get('day')!.count, 3);
  t.equal(vente.counts.get('sent')!.get('week')!.count, 3);
  t.equal(vente.counts.get('failed')!.get('day')!.count, 0);
  t.equal(await logTotal(viewer, vente.counts.get('sent')!.get('day')!.href), 3);
  const achat = cardCounts(page.body, 'achat');
  t.equal(achat.counts.get('failed')!.get('day')!.count, 2);
  t.equal(await logTotal(viewer, achat.counts.get('failed')!.get('week')!.href), 2);
  t.match(vente.block, new RegExp(`<li data-server="${venteId}" data-role="sending" data-state="ok">`));
  t.match(vente.block, new RegExp(`href="/smtp-servers/${venteId}/edit">Vente Lyon</a>`));
  t.match(vente.block, /Dernier envoi réussi par ses serveurs : <strong>il y a \d+ s<\/strong>/);
  t.match(achat.block, /Dernier envoi réussi par ses serveurs : <strong>jamais<\/strong>/);

  // Per server: the last send links to its messages; a recipient refused is no error of the server's.
  const row = page.body.slice(page.body.indexOf(`<tr data-server="${achatId}">`));
  t.match(row.slice(0, row.indexOf('</tr>')), /<td>Aucune<\/td>/);
  t.match(page.body, new RegExp(`href="/messages\\?status=sent&amp;server=${venteId}"`));
  t.equal(await logTotal(viewer, `/messages?status=sent&server=${venteId}`), 3);

  // The latency table: three delivered today, their median in words.
  const today = new Date(hourOf(new Date()) - (Date.now() % 86_400_000 - (Date.now() % 3_600_000))).toISOString();
  const latencyRow = /<tr data-day="([^"]+)">\s*<th scope="row">[^<]*<\/th>\s*<td><a href="([^"]+)">3<\/a><\/td>\s*<td>([^<]+)<\/td>/.exec(page.body);
  t.ok(latencyRow, 'a day with three delivered');
  t.equal(latencyRow?.[1], today.slice(0, 10) + 'T00:00:00.000Z');
  t.match(latencyRow?.[3], /\d+ (ms|s)/);
  t.equal(await logTotal(viewer, decode(latencyRow![2]!)), 3);

  // A failed message retried by an administrator is no longer counted as failed; failing again, it is once more.
  const admin = await adminClient(app);
  const failedOne = done[3]!;
  await admin.get(`/messages/${failedOne.id}`);
  t.equal((await admin.post(`/messages/${failedOne.id}/retry`)).statusCode, 303);
  const again = await until(app, failedOne.id, ['failed'], 30_000);
  t.equal(again.attempts.length, 2, 'tried once more');
  const hour = hourOf(failedOne.acceptedAt);
  const row2 = (await app.stores.dashboard.hourly(new Date(hour))).filter((r) => r.department === 'achat' && r.hour.getTime() === hour);
  t.same(Object.fromEntries(row2.map((r) => [r.outcome, r.count])), { accepted: expected.get(`achat|${hour}|accepted`), failed: expected.get(`achat|${hour}|failed`) });
  const cell = hourlyTable((await viewer.get('/tableau-de-bord')).body, 'achat').rows.get(new Date(hour).toISOString())!.get('failed')!;
  t.equal(await logTotal(viewer, cell.href), cell.count, 'still as many as the log');
});

await forEachStore(t, 'a message retried twice then sent counts once as retried, and the log it links to lists it alone', async (t, store) => {
  // A 451 for these recipients, one reply per round, then the message is taken.
  const replies = new Map([
    ['lent@exemple.fr', [451, 451]],
    ['refus@exemple.fr', [451, 550]],
  ]);
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(address, _session, callback) {
      const code = replies.get(address.address)?.shift();
      if (code === undefined) return callback();
      callback(Object.assign(new Error(code === 451 ? 'Try again later' : 'No such user here'), { responseCode: code }));
    },
  });
  const app = await outboxApp(t, store, { RELAIS_SERVER_DOWN_AFTER_FAILURES: '10' });
  await sendingServerFor(app.stores, { title: 'Vente Lyon', port: peer.port, departments: ['vente'] });
  const slow = await accept(app, 'vente', 'Devis retardé', ['lent@exemple.fr']);
  const direct = await accept(app, 'vente', 'Devis direct');
  const refused = await accept(app, 'vente', 'Devis refusé', ['refus@exemple.fr']);
  const sent = await until(app, slow.id, ['sent'], 30_000);
  t.same(sent.attempts.map((a) => a.outcome), ['failover', 'failover', 'sent'], 'two rounds ended in a retry, the third delivered it');
  t.equal((await until(app, direct.id, ['sent'], 30_000)).attempts.length, 1);
  t.same((await until(app, refused.id, ['failed'], 30_000)).attempts.map((a) => a.outcome), ['failover', 'failed']);

  // Failed after a retry, then queued again by an administrator: its rounds start again, it is no longer counted.
  const admin = await adminClient(app);
  await admin.get(`/messages/${refused.id}`);
  t.equal((await admin.post(`/messages/${refused.id}/retry`)).statusCode, 303);
  t.equal((await until(app, refused.id, ['sent'], 30_000)).attempts.length, 3);

  const expected = new Map<string, number>();
  const bump = (m: { acceptedAt: Date }, outcome: string) => {
    const key = `vente|${hourOf(m.acceptedAt)}|${outcome}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  };
  for (const m of [slow, direct, refused]) {
    bump(m, 'accepted');
    bump(m, 'sent');
  }
  bump(slow, 'retried');
  const counts = async () =>
    new Map((await app.stores.dashboard.hourly(new Date(Date.now() - 48 * 3_600_000))).filter((r) => r.count !== 0).map((r) => [`${r.department}|${r.hour.getTime()}|${r.outcome}`, r.count]));
  t.same(await counts(), expected, 'retried once, not once per retry; the one queued again counted as sent only');

  const viewer = await viewerClient(app);
  const page = (await viewer.get('/tableau-de-bord')).body;
  const hour = new Date(hourOf(slow.acceptedAt)).toISOString();
  const cell = hourlyTable(page, 'vente').rows.get(hour)!.get('retried')!;
  t.equal(cell.count, 1, 'the hour’s figure');
  t.match(cell.href, /^\/messages\?retried=1&department=vente&since=[^&]+&until=[^&]+$/);
  t.same(await logSubjects(viewer, cell.href), ['Devis retardé'], 'the log it links to lists that message alone');
  const day = cardCounts(page, 'vente').counts.get('retried')!.get('day')!;
  t.equal(day.count, 1, 'the card’s 24 h figure');
  t.same(await logSubjects(viewer, day.href), ['Devis retardé']);
  const filtered = await viewer.get(day.href);
  t.match(filtered.body, /<input type="checkbox" name="retried" value="1" checked[^>]*> <span>Réessayés au moins une fois<\/span>/, 'the filter shown as chosen');
  t.same(await logSubjects(viewer, day.href.replace('retried=1', 'retried=1&status=retry')), [], 'it is sent now: no longer waiting for a retry');

  // Counts kept before this version held a message once per retry: the migration counts them again, once each.
  const folder = new URL(`../migrations/${store.kind}/`, import.meta.url);
  const migration = fs.readFileSync(new URL(fs.readdirSync(folder).find((name) => name.endsWith('_retried-once.sql'))!, folder), 'utf8');
  const recount = migration.split('--> statement-breakpoint').filter((statement) => /^\s*(--[^\n]*\n)*\s*(DELETE|INSERT)/i.test(statement));
  t.equal(recount.length, 2, 'a delete and an insert');
  const asBefore = `UPDATE dashboard_hourly_counts SET count = 3 WHERE outcome = 'retried'`;
  if (store.kind === 'sqlite') {
    const db = (app as unknown as { database: { sqlite: import('better-sqlite3').Database } }).database.sqlite;
    db.exec(asBefore);
    for (const statement of recount) db.exec(statement);
  } else {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      await client.query(asBefore);
      for (const statement of recount) await client.query(statement);
    } finally {
      await client.end();
    }
  }
  t.same(await counts(), expected, 'the recount gives the counts kept');
});

await forEachStore(t, 'routes with backups in order and their states; the page in English; viewers and admins see it', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const first = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: 2525, departments: ['vente'] });
  const second = await sendingServerFor(app.stores, { title: 'Vente Nantes', port: 2526, departments: ['vente'], rateLimitPerMinute: 30 });
  const third = await sendingServerFor(app.stores, { title: 'Vente Brest', port: 2527, departments: ['vente'] });
  const unconfirmed = await sendingServerFor(app.stores, { title: 'Vente Test', port: 2528, departments: ['vente'] });
  await app.stores.servers.update(unconfirmed, { confirmationStatus: 'unconfirmed' });
  const vente = (await app.stores.departments.list()).find((d) => d.code === 'vente')!;
  await app.stores.departments.setOrder(vente.id, [second, first, third, unconfirmed]);
  // The first in the order is down: the next one sends.
  await app.stores.outbox.serverFailed(second, new Date(), '421 4.7.0 Too many connections', 1, new Date(Date.now() + 600_000));
  await app.stores.outbox.reserveSlot(second, new Date(Date.now() - (Date.now() % 60_000)), 30);

  const admin = await adminClient(app);
  const page = await admin.get('/tableau-de-bord');
  t.equal(page.statusCode, 200);
  const card = cardCounts(page.body, 'vente').block;
  const order = [...card.matchAll(/<li data-server="(\d+)" data-role="(\w+)" data-state="(\w+)">[\s\S]*?<span class="route-role">([^<]+)<\/span>/g)].map((m) => [Number(m[1]), m[2], m[3], m[4]]);
  t.same(order, [
    [second, 'skipped', 'down', 'Non utilisé'],
    [first, 'sending', 'ok', 'Envoie maintenant'],
    [third, 'backup', 'ok', 'Secours 1'],
    [unconfirmed, 'skipped', 'unconfirmed', 'Non utilisé'],
  ]);
  t.match(card, />En panne</);
  t.match(card, />Non confirmé</);
  const serverRow = page.body.slice(page.body.indexOf(`<tr data-server="${second}">`));
  const cells = serverRow.slice(0, serverRow.indexOf('</tr>'));
  t.match(cells, /421 4\.7\.0 Too many connections/, 'its last error');
  t.match(cells, /1 sur 30 par minute/, 'its rate limit’s use this minute');
  t.match(cells, /Jamais testé/);
  t.match(page.body, /<a href="\/tableau-de-bord" aria-current="page">Tableau de bord<\/a>\s*<a href="\/smtp-servers"/, 'first in the navigation');
  t.equal(parseSvgs(page.body), 3 + 1 + 4 + 2, 'the empty charts parse: one per department, the latency chart, the legends’ swatches');
  t.match(page.body, /Aucun message sur cette période\./);

  await admin.get('/language?lang=en&next=/tableau-de-bord');
  const english = await admin.get('/tableau-de-bord');
  t.match(english.body, /<h1>Dashboard<\/h1>/);
  t.match(english.body, /<span class="route-role">Sends now<\/span>/);
  t.match(english.body, /<span class="route-role">Backup 1<\/span>/);
  t.match(english.body, /<title id="hourly-vente-title">Messages per hour of [^<]+, last 48 hours<\/title>/, 'the charts in the UI language');
  t.match(english.body, /1 of 30 per minute/);

  const viewer = await viewerClient(app);
  t.equal((await viewer.get('/tableau-de-bord')).statusCode, 200, 'a viewer sees it');

  // Many servers for one department: the card shows eight, and links to the department's page for the others.
  for (let i = 0; i < 6; i++) await sendingServerFor(app.stores, { title: `Vente ${i}`, port: 2530 + i, departments: ['vente'] });
  const crowded = cardCounts((await viewer.get('/tableau-de-bord')).body, 'vente').block;
  t.equal(crowded.match(/<li data-server=/g)?.length, 8);
  t.match(crowded, /<a href="\/departments\/vente">Et 2 autres serveurs : la page du service les montre tous<\/a>/);
  const anonymous = await app.inject({ method: 'GET', url: '/tableau-de-bord' });
  t.equal(anonymous.statusCode, 303, 'signed out: to the sign-in page');
});
