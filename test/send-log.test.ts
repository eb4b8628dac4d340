// The Journal des envois on the real app (SQLite, or PostgreSQL under RELAIS_TEST_STORE=postgres): the list, its
// filters, search and pages, a message's attempts, retry and cancel, the exports, and the banner on every page.
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import t from 'tap';
import { adminClient, auditTrail, buildTestApp, viewerClient, type Client } from './helper.js';
import { sendingServerFor } from './outbox-helpers.js';
import { accepted, settled } from './send-log-fixtures.js';

const noWorker = { RELAIS_OUTBOX_WORKER: 'false' };

/** The subjects of the log's rows, in order. */
function subjects(html: string): string[] {
  return [...html.matchAll(/<th scope="row" class="message-subject"><a href="\/messages\/[^"]+">([^<]*)<\/a>/g)].map((m) => m[1]!);
}

async function logWith(t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t, noWorker);
  const primary = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: 2525, departments: ['vente'] });
  const backup = await sendingServerFor(app.stores, { title: 'Achat Paris', port: 2526, departments: ['achat'] });
  const sent = await accepted(app, { subject: 'Devis 2025-001', to: ['client@exemple.fr'] });
  await settled(app, sent.id, { status: 'sent', server: { id: primary, title: 'Vente Lyon' }, attempts: [{ serverId: primary, serverTitle: 'Vente Lyon', outcome: 'sent', reply: '250 2.0.0 Ok: queued as 4F2A', durationMs: 84 }] });
  const failed = await accepted(app, { department: 'achat', subject: 'Bon de commande Élodie', to: ['fournisseur@exemple.fr'] });
  await settled(app, failed.id, {
    status: 'failed',
    server: { id: backup, title: 'Achat Paris' },
    attempts: [
      { serverId: backup, serverTitle: 'Achat Paris', outcome: 'failover', reply: '451 4.3.0 Try again later', durationMs: 1200 },
      { serverId: backup, serverTitle: 'Achat Paris', outcome: 'failed', reply: '550 5.1.1 <fournisseur@exemple.fr>: Recipient address rejected', durationMs: 35 },
    ],
  });
  const queued = await accepted(app, { department: 'production', subject: 'Avis de fabrication', to: ['atelier@exemple.fr'] });
  return { app, primary, backup, sent, failed, queued };
}

t.test('the log lists every message with its words, newest first; filters, search and pages travel in the URL', async (t) => {
  const { app, primary, backup, queued } = await logWith(t);
  const viewer = await viewerClient(app);
  const page = await viewer.get('/messages');
  t.equal(page.statusCode, 200);
  t.same(subjects(page.body), ['Avis de fabrication', 'Bon de commande Élodie', 'Devis 2025-001'], 'newest first');
  t.match(page.body, /<span class="message-status message-status-failed" data-status="failed">Échec<\/span>/);
  t.match(page.body, /data-status="sent">Envoyé</);
  t.match(page.body, /data-status="queued">En attente</);
  t.match(page.body, /550 5\.1\.1 &lt;fournisseur@exemple\.fr&gt;: Recipient address rejected/, 'the last reply, escaped');
  t.match(page.body, /<td>Achat<\/td>/, 'the department by its name');
  t.match(page.body, /<td>Achat Paris<\/td>/, 'the server used');
  t.match(page.body, new RegExp(`<tr data-message="${queued.id}">[\\s\\S]*?<td class="num">0</td>`), 'the attempts');
  t.match(page.body, /3 message/);
  t.notMatch(page.body, /action="\/messages\/[^"]+\/(retry|cancel)"/, 'no action in the list');

  t.same(subjects((await viewer.get('/messages?status=failed')).body), ['Bon de commande Élodie']);
  t.same(subjects((await viewer.get('/messages?department=vente')).body), ['Devis 2025-001']);
  t.same(subjects((await viewer.get(`/messages?server=${backup}`)).body), ['Bon de commande Élodie']);
  t.same(subjects((await viewer.get(`/messages?server=${primary}&status=failed`)).body), [], 'filters together');
  t.same(subjects((await viewer.get('/messages?q=elodie')).body), ['Bon de commande Élodie'], 'search ignores accents and case');
  t.same(subjects((await viewer.get('/messages?q=atelier%40exemple')).body), ['Avis de fabrication'], 'search in the recipients');
  const none = await viewer.get('/messages?q=zzz');
  t.match(none.body, /Aucun message ne correspond à « zzz »/);
  const garbage = await viewer.get('/messages?status=lost&department=%3Cx%3E&server=abc&page=-3');
  t.equal(garbage.statusCode, 200, 'unknown filter values are ignored');
  t.equal(subjects(garbage.body).length, 3);

  const fragment = await viewer.get('/messages?status=sent', { 'hx-request': 'true', 'hx-target': 'messages-table' });
  t.notMatch(fragment.body, /<html/, 'htmx gets the table alone');
  t.same(subjects(fragment.body), ['Devis 2025-001']);
  t.match(String(fragment.headers.vary), /HX-Request, HX-Target/);
  t.match(page.body, /<option value="failed">Échec<\/option>/);
  t.match((await viewer.get('/messages?status=failed')).body, /<option value="failed" selected>/, 'the filter shown as chosen');
});

t.test('pages of the log', async (t) => {
  const app = await buildTestApp(t, noWorker);
  for (let i = 1; i <= 30; i++) await accepted(app, { subject: `Facture ${String(i).padStart(2, '0')}` });
  const viewer = await viewerClient(app);
  const first = await viewer.get('/messages?per=25');
  t.equal(subjects(first.body).length, 25);
  t.equal(subjects(first.body)[0], 'Facture 30');
  t.match(first.body, /1–25 sur 30 messages/);
  t.match(first.body, /rel="next" href="\/messages\?per=25&amp;page=2"/);
  const second = await viewer.get('/messages?per=25&page=2');
  t.same(subjects(second.body), ['Facture 05', 'Facture 04', 'Facture 03', 'Facture 02', 'Facture 01']);
  t.match(second.body, /Page 2 sur 2/);
  t.equal(subjects((await viewer.get('/messages?per=25&page=9')).body).length, 5, 'a page past the end shows the last');
  t.equal(subjects((await viewer.get('/messages?q=facture%202')).body).length, 10, 'a search over every page: Facture 20 to 29');
});

t.test('a message’s page shows each attempt; unknown ids are 404', async (t) => {
  const { app, failed, sent } = await logWith(t);
  const viewer = await viewerClient(app);
  const page = await viewer.get(`/messages/${failed.id}`);
  t.equal(page.statusCode, 200);
  t.match(page.body, /<h1>Bon de commande Élodie<\/h1>/);
  t.match(page.body, /Essais d’envoi \(2\)/);
  t.match(page.body, /<td>Achat Paris<\/td>\s*<td><span class="attempt-outcome attempt-outcome-failover">Échec, serveur suivant<\/span><\/td>\s*<td class="reply">451 4\.3\.0 Try again later<\/td>\s*<td class="num nowrap">1\s?200 ms<\/td>/);
  t.match(page.body, /attempt-outcome-failed">Refusé</);
  t.match(page.body, new RegExp(failed.messageId.replace(/[<>.]/g, (c) => (c === '.' ? '\\.' : c === '<' ? '&lt;' : '&gt;'))), 'the Message-ID');
  t.notMatch(page.body, /\/retry"/, 'a viewer sees no retry');
  t.match((await viewer.get(`/messages/${sent.id}`)).body, /250 2\.0\.0 Ok: queued as 4F2A/);
  t.equal((await viewer.get('/messages/nope-not-there')).statusCode, 404);
  t.equal((await viewer.get('/messages/%3Cscript%3E')).statusCode, 404);
});

t.test('admins retry a failed message and cancel a queued one; viewers may not; each is audited', async (t) => {
  const { app, failed, queued, sent } = await logWith(t);
  const viewer = await viewerClient(app);
  t.equal((await viewer.post(`/messages/${failed.id}/retry`)).statusCode, 403, 'a viewer may not retry');
  t.equal((await viewer.post(`/messages/${queued.id}/cancel`)).statusCode, 403, 'nor cancel');
  t.equal((await app.outbox.find(failed.id))?.status, 'failed');

  const admin = await adminClient(app);
  const failedPage = await admin.get(`/messages/${failed.id}`);
  t.match(failedPage.body, new RegExp(`action="/messages/${failed.id}/retry"`));
  t.notMatch(failedPage.body, /\/cancel"/);
  t.equal((await admin.post(`/messages/${failed.id}/retry`, { _csrf: 'forged' })).statusCode, 403, 'CSRF checked');
  const retried = await admin.post(`/messages/${failed.id}/retry`);
  t.equal(retried.statusCode, 303);
  t.equal(retried.headers.location, `/messages/${failed.id}`);
  t.equal((await app.outbox.find(failed.id))?.status, 'queued', 'queued again');
  const after = await admin.get(`/messages/${failed.id}`);
  t.match(after.body, /Le message est remis en file d’attente\./);
  t.match(after.body, new RegExp(`action="/messages/${failed.id}/cancel"`), 'now it can be cancelled');

  const again = await admin.post(`/messages/${sent.id}/retry`);
  t.equal(again.statusCode, 303);
  t.match((await admin.get(`/messages/${sent.id}`)).body, /Ce message n’est plus en échec/);
  t.equal((await app.outbox.find(sent.id))?.status, 'sent', 'a sent message is left as it was');

  t.equal((await admin.post(`/messages/${queued.id}/cancel`)).statusCode, 303);
  t.equal((await app.outbox.find(queued.id))?.status, 'cancelled');
  t.match((await admin.get(`/messages/${queued.id}`)).body, /data-status="cancelled">Annulé</);
  t.equal((await admin.post('/messages/unknown-id/cancel')).statusCode, 404);

  t.same((await auditTrail(app, 'message.retry')).map((e) => [e.targetId, e.summary, e.ip]), [[failed.id, 'Bon de commande Élodie', '127.0.0.1']], 'with the address it came from');
  t.same((await auditTrail(app, 'message.cancel')).map((e) => [e.targetId, e.summary, e.ip]), [[queued.id, 'Avis de fabrication', '127.0.0.1']]);
  const htmx = await admin.post(`/messages/${failed.id}/cancel`, {}, { 'hx-request': 'true' });
  t.equal(htmx.headers['hx-redirect'], `/messages/${failed.id}`, 'htmx is told to load the page');
});

async function download(app: Awaited<ReturnType<typeof buildTestApp>>, client: Client, url: string) {
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  return app.inject({ method: 'GET', url, headers: { cookie } });
}

t.test('the exports hold what the log shows, every page of it, and parse back', async (t) => {
  const { app, failed, sent } = await logWith(t);
  for (let i = 1; i <= 3; i++) await accepted(app, { subject: `=HYPERLINK("x") ${i}`, department: 'achat' });
  const viewer = await viewerClient(app);
  const csv = await download(app, viewer, '/messages/export.csv?department=achat');
  t.equal(csv.statusCode, 200);
  t.match(String(csv.headers['content-disposition']), /attachment; filename="journal-envois-\d{4}-\d{2}-\d{2}\.csv"/);
  const rows = parse(csv.body, { bom: true, delimiter: ';' }) as string[][];
  t.same(rows[0], ['Date', 'Service', 'Destinataires', 'Objet', 'Serveur utilisé', 'Statut', 'Essais', 'Dernière réponse', 'Identifiant', 'Message-ID']);
  t.same(rows.slice(1).map((r) => r[3]), [`'=HYPERLINK("x") 3`, `'=HYPERLINK("x") 2`, `'=HYPERLINK("x") 1`, 'Bon de commande Élodie'], 'only the filter’s rows, formulas neutralised');
  const failedRow = rows.find((r) => r[8] === failed.id)!;
  t.same(failedRow.slice(1, 8), ['Achat', 'fournisseur@exemple.fr', 'Bon de commande Élodie', 'Achat Paris', 'Échec', '2', '550 5.1.1 <fournisseur@exemple.fr>: Recipient address rejected']);
  t.match(failedRow[0], /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
  t.equal(failedRow[9], failed.messageId);

  const english = await app.inject({ method: 'GET', url: '/messages/export.csv?q=devis', headers: { cookie: [...viewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ') + '; relais_lang=en' } });
  const englishRows = parse(english.body, { bom: true, delimiter: ',' }) as string[][];
  t.same(englishRows.map((r) => [r[3], r[5]]), [['Subject', 'Status'], ['Devis 2025-001', 'Sent']]);
  t.equal(englishRows[1]![8], sent.id);

  const xlsx = await download(app, viewer, '/messages/export.xlsx?status=failed');
  t.equal(xlsx.statusCode, 200);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
  const sheet = workbook.worksheets[0]!;
  t.equal(sheet.name, 'Journal des envois');
  t.equal(sheet.rowCount, 2);
  t.equal(sheet.getRow(2).getCell(4).value, 'Bon de commande Élodie');
  t.equal(sheet.getRow(2).getCell(7).value, 2, 'attempts as a number');
  t.ok(sheet.getRow(2).getCell(1).value instanceof Date, 'the date as a date');
  const exports = await auditTrail(app, 'message.export');
  t.same(exports.map((e) => e.summary), ['CSV, 4 lignes, filtres department=achat', 'CSV, 1 ligne, recherche « devis »', 'XLSX, 1 ligne, filtres status=failed']);
  t.equal((await app.inject({ method: 'GET', url: '/messages/export.csv' })).statusCode, 303, 'signed out: to the sign-in page');
});

t.test('« Réessayés au moins une fois »: the messages retried at least once, whatever their status now; in the exports too', async (t) => {
  const { app, primary } = await logWith(t);
  const server = { id: primary, title: 'Vente Lyon' };
  const later = { serverId: primary, serverTitle: 'Vente Lyon', outcome: 'failover' as const, reply: '451 4.3.0 Try again later', durationMs: 20 };
  const thenSent = await accepted(app, { subject: 'Devis relancé' });
  await settled(app, thenSent.id, { status: 'retry', server, attempts: [later], dueAt: new Date() });
  await settled(app, thenSent.id, { status: 'sent', server, attempts: [{ ...later, outcome: 'sent', reply: '250 Ok' }] });
  const waiting = await accepted(app, { subject: 'Devis en attente' });
  await settled(app, waiting.id, { status: 'retry', server, attempts: [later], dueAt: new Date(Date.now() + 3_600_000) });

  const viewer = await viewerClient(app);
  t.same(subjects((await viewer.get('/messages?retried=1')).body), ['Devis en attente', 'Devis relancé']);
  t.same(subjects((await viewer.get('/messages?retried=1&status=sent')).body), ['Devis relancé'], 'with a status: retried, then sent');
  t.same(subjects((await viewer.get('/messages?status=retry')).body), ['Devis en attente'], 'the status alone: waiting for a retry now');
  t.equal(subjects((await viewer.get('/messages?retried=yes')).body).length, 5, 'another value is ignored');
  const page = await viewer.get('/messages?retried=1&per=25');
  t.match(page.body, /<label class="filter"><input type="checkbox" name="retried" value="1" checked hx-get="\/messages" hx-trigger="change" hx-include="closest form"> <span>Réessayés au moins une fois<\/span><\/label>/);
  t.match(page.body, /<input type="hidden" name="retried" value="1">/, 'kept by the rows-per-page form');
  t.match(page.body, /href="\/messages\/export\.csv\?retried=1&amp;per=25"/, 'and by the export links');
  t.notMatch((await viewer.get('/messages')).body, /name="retried" value="1" checked/);
  t.match((await viewer.get('/messages?retried=1&q=zzz')).body, /Aucun message ne correspond à « zzz »/);

  const csv = await download(app, viewer, '/messages/export.csv?retried=1');
  t.same((parse(csv.body, { bom: true, delimiter: ';' }) as string[][]).slice(1).map((r) => [r[3], r[5]]), [['Devis en attente', 'Nouvel essai prévu'], ['Devis relancé', 'Envoyé']]);
  // Recorded as the file completes: a moment after the answer.
  for (let i = 0; i < 100 && (await auditTrail(app, 'message.export')).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.same((await auditTrail(app, 'message.export')).map((e) => e.summary), ['CSV, 2 lignes, filtres retried=1']);

  const english = await app.inject({ method: 'GET', url: '/messages?retried=1', headers: { cookie: [...viewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ') + '; relais_lang=en' } });
  t.match(english.body, /checked[^>]*> <span>Retried at least once<\/span>/);
});

t.test('the outbox reads every match a batch at a time, in the log’s order', async (t) => {
  const app = await buildTestApp(t, noWorker);
  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push((await accepted(app, { subject: `Lot ${i}` })).id);
  await accepted(app, { subject: 'Autre', department: 'achat' });
  const batches = [];
  for await (const batch of app.stores.outbox.batches({ department: 'vente' }, 2)) batches.push(batch.map((m) => m.subject));
  t.same(batches, [['Lot 5', 'Lot 4'], ['Lot 3', 'Lot 2'], ['Lot 1']]);
  const all = [];
  for await (const batch of app.outbox.batches({ q: 'LOT' })) all.push(...batch.map((m) => m.id));
  t.same(all, ids.reverse());
});

t.test('the banner: departments without a usable server, messages failed for good in the last 24 h', async (t) => {
  const app = await buildTestApp(t, noWorker);
  const viewer = await viewerClient(app);
  const fresh = await viewer.get('/smtp-servers');
  t.match(fresh.body, /<aside class="sending-alerts" aria-label="Alertes d’envoi">/);
  t.match(fresh.body, /Aucun serveur utilisable pour les services : Achat, Vente, Production\./);
  t.notMatch(fresh.body, /échec définitif/);
  t.notMatch((await viewer.get('/smtp-servers', { 'hx-request': 'true', 'hx-target': 'servers-table' })).body, /sending-alerts/, 'not in fragments');
  t.notMatch((await app.inject({ method: 'GET', url: '/login' })).body, /sending-alerts/, 'not for anonymous visitors');

  const server = await sendingServerFor(app.stores, { title: 'Partout', port: 2525, usage: 'default' });
  app.sendingAlerts.forget();
  t.notMatch((await viewer.get('/audit')).body, /sending-alerts/, 'every department has a server now: no banner');

  await app.stores.servers.update(server, { downUntil: new Date(Date.now() + 60_000) });
  app.sendingAlerts.forget();
  t.match((await viewer.get('/messages')).body, /Aucun serveur utilisable pour les services : Achat, Vente, Production\./, 'a server en panne is not usable');
  await app.stores.servers.update(server, { downUntil: null });

  const failed = await accepted(app, { subject: 'Perdu' });
  await settled(app, failed.id, { status: 'failed', server: { id: server, title: 'Partout' }, attempts: [{ serverId: server, serverTitle: 'Partout', outcome: 'failed', reply: '550 no', durationMs: 3 }] });
  app.sendingAlerts.forget();
  const page = await viewer.get('/messages');
  t.match(page.body, /<a href="\/messages\?status=failed">1 message en échec définitif ces dernières 24 h<\/a>/);
  t.notMatch(page.body, /Aucun serveur utilisable/);

  const admin = await adminClient(app);
  t.equal((await admin.post(`/messages/${failed.id}/retry`)).statusCode, 303);
  t.notMatch((await admin.get('/smtp-servers')).body, /sending-alerts/, 'a retry clears it at once');
});
