// Envoyer un e-mail de test on the real app: the form and its errors, the message handed to the outbox like any
// other (origin: the signed-in user), and the page that follows it to its outcome (meta refresh without JS, htmx polling).
import t from 'tap';
import { adminClient, buildTestApp, viewerClient } from './helper.js';
import { fastOutboxEnv, sendingServerFor, until } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { settled } from './send-log-fixtures.js';

const noWorker = { RELAIS_OUTBOX_WORKER: 'false' };

t.test('the form: viewers may not, errors next to their fields, 422', async (t) => {
  const app = await buildTestApp(t, noWorker);
  const viewer = await viewerClient(app);
  t.equal((await viewer.get('/test-email')).statusCode, 403, 'admins only');
  t.equal((await viewer.post('/test-email', { department: 'vente', to: 'a@exemple.fr' })).statusCode, 403);

  const admin = await adminClient(app);
  const form = await admin.get('/test-email');
  t.equal(form.statusCode, 200);
  t.match(form.body, /<h1>Envoyer un e-mail de test<\/h1>/);
  t.match(form.body, /<option value="vente">Vente<\/option>/);
  t.match(form.body, /<input id="to" name="to" type="email" value="admin\d+@relais\.test"/, 'the recipient defaults to the admin’s own address');

  const bad = await admin.post('/test-email', { department: '', server: '999', to: 'pas une adresse', subject: 'x'.repeat(201), text: '' });
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /<p class="field-error" id="department-error">Choisissez un service\.<\/p>/);
  t.match(bad.body, /id="department" name="department" required aria-invalid="true" aria-describedby="department-hint department-error"/);
  t.match(bad.body, /id="server-error">Ce serveur n’existe pas \(ou plus\)\./);
  t.match(bad.body, /id="to-error">Cette adresse n’est pas valide/);
  t.match(bad.body, /id="subject-error">Au plus 200 caractères\./);
  t.match(bad.body, /<li><a href="#to">/, 'a linked summary');
  t.match(bad.body, /value="pas une adresse"/, 'values kept');
  t.equal((await app.outbox.list({})).total, 0, 'nothing queued');
  t.equal((await admin.post('/test-email', { department: 'vente', to: 'a@exemple.fr', _csrf: 'forged' })).statusCode, 403, 'CSRF checked');
  t.equal((await admin.post('/test-email', { department: 'inconnu', to: 'a@exemple.fr' })).statusCode, 422);
});

t.test('a test e-mail goes through the outbox; its page follows it until it is sent', async (t) => {
  const app = await buildTestApp(t, noWorker);
  const server = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: 2525 });
  const admin = await adminClient(app);
  const sent = await admin.post('/test-email', { department: 'vente', server: String(server), to: 'moi@exemple.fr', subject: '', text: '' });
  t.equal(sent.statusCode, 303);
  const location = String(sent.headers.location);
  t.match(location, /^\/test-email\/[A-Za-z0-9_-]{20}$/);
  const id = location.split('/').pop()!;
  const message = await app.outbox.find(id);
  t.same(
    { status: message?.status, department: message?.department, to: message?.to, subject: message?.subject },
    { status: 'queued', department: 'vente', to: ['moi@exemple.fr'], subject: 'E-mail de test Relais' },
    'queued like any message, the default subject',
  );
  const [claimed] = await app.stores.outbox.claim('test', new Date(), new Date(Date.now() + 1000), 10);
  t.equal(claimed?.pinnedServerId, server, 'only the chosen server');
  await app.stores.outbox.handBack('test', new Date());
  const content = await app.stores.outbox.contentOf(claimed!.id);
  t.match(content.text, /Ceci est un e-mail de test envoyé depuis Relais/);

  const following = await admin.get(location);
  t.equal(following.statusCode, 200);
  t.match(following.body, /E-mail de test pour moi@exemple\.fr confié à la file d’envoi\./, 'the flash');
  t.match(following.body, /<noscript><meta http-equiv="refresh" content="2"><\/noscript>/, 'without JS: the page reloads itself');
  t.match(following.body, new RegExp(`<section id="test-email-progress" class="panel" aria-labelledby="test-email-state" hx-get="/test-email/${id}" hx-trigger="every 2s" hx-target="this" hx-swap="outerHTML" data-following>`), 'with JS: htmx asks again');
  t.match(following.body, /data-status="queued">En attente</);

  const poll = await admin.get(location, { 'hx-request': 'true', 'hx-target': 'test-email-progress' });
  t.notMatch(poll.body, /<html/, 'htmx gets the progress alone');
  t.match(poll.body, /hx-trigger="every 2s"/);

  await settled(app, id, { status: 'sent', server: { id: server, title: 'Vente Lyon' }, attempts: [{ serverId: server, serverTitle: 'Vente Lyon', outcome: 'sent', reply: '250 Ok', durationMs: 12 }] });
  const done = await admin.get(location, { 'hx-request': 'true', 'hx-target': 'test-email-progress' });
  t.match(done.body, /data-status="sent">Envoyé</);
  t.match(done.body, /Le serveur Vente Lyon a accepté le message\./);
  t.notMatch(done.body, /hx-trigger/, 'sent: the polling stops');
  const page = await admin.get(location);
  t.notMatch(page.body, /http-equiv="refresh"/, 'and the reloading');
  t.match(page.body, new RegExp(`<a href="/messages/${id}">Voir ce message dans le journal des envois</a>`));
  t.equal((await admin.get('/test-email/unknown')).statusCode, 404);
});

t.test('a failed test e-mail says why and stops following', async (t) => {
  const app = await buildTestApp(t, noWorker);
  const server = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: 2525 });
  const admin = await adminClient(app);
  const res = await admin.post('/test-email', { department: 'vente', to: 'moi@exemple.fr', subject: 'Essai du lundi', text: 'Bonjour' });
  const id = String(res.headers.location).split('/').pop()!;
  await settled(app, id, { status: 'failed', server: { id: server, title: 'Vente Lyon' }, attempts: [{ serverId: server, serverTitle: 'Vente Lyon', outcome: 'failed', reply: '550 5.7.1 Relaying denied', durationMs: 8 }] });
  const page = await admin.get(`/test-email/${id}`);
  t.match(page.body, /L’envoi a échoué : 550 5\.7\.1 Relaying denied/);
  t.notMatch(page.body, /hx-trigger|http-equiv="refresh"/);
  t.equal((await app.outbox.find(id))?.subject, 'Essai du lundi');
});

t.test('with the worker: a real SMTP peer receives the test e-mail, and its page says « Envoyé »', async (t) => {
  const peer = await startSmtpPeer(t, { authOptional: true });
  const app = await buildTestApp(t, fastOutboxEnv);
  await sendingServerFor(app.stores, { title: 'Vente Lyon', port: peer.port });
  const admin = await adminClient(app);
  const res = await admin.post('/test-email', { department: 'vente', to: 'moi@exemple.fr', subject: '', text: '' });
  t.equal(res.statusCode, 303);
  const id = String(res.headers.location).split('/').pop()!;
  const done = await until(app, id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  const received = await peer.message(1);
  t.same(received.envelope.rcptTo.map((r) => r.address), ['moi@exemple.fr']);
  t.equal(received.mail.subject, 'E-mail de test Relais');
  t.equal(received.mail.messageId, done.messageId, 'the Message-ID fixed at acceptance');
  t.match(received.mail.text, /Ceci est un e-mail de test envoyé depuis Relais/);
  const page = await admin.get(`/test-email/${id}`);
  t.match(page.body, /data-status="sent">Envoyé</);
  t.match(page.body, /Le serveur Vente Lyon a accepté le message\./);
  t.notMatch(page.body, /hx-trigger|http-equiv="refresh"/);
  const log = await admin.get(`/messages/${id}`);
  t.match(log.body, /<td>Vente Lyon<\/td>\s*<td><span class="attempt-outcome attempt-outcome-sent">Envoyé<\/span><\/td>\s*<td class="reply">250 /, 'the attempt in the log, with the peer’s reply');
});

t.test('with the worker: a test e-mail refused for its recipient fails with the reply, and the banner says so', async (t) => {
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('5.1.1 Recipient address rejected'), { responseCode: 550 }));
    },
  });
  const app = await buildTestApp(t, fastOutboxEnv);
  const server = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: peer.port });
  const admin = await adminClient(app);
  const res = await admin.post('/test-email', { department: 'vente', server: String(server), to: 'inconnu@exemple.fr' });
  const id = String(res.headers.location).split('/').pop()!;
  const done = await until(app, id, ['sent', 'failed']);
  t.equal(done.status, 'failed');
  app.sendingAlerts.forget();
  const page = await admin.get(`/test-email/${id}`);
  t.match(page.body, /L’envoi a échoué : 550 5\.1\.1 Recipient address rejected/);
  t.match(page.body, /<a href="\/messages\?status=failed">1 message en échec définitif ces dernières 24 h<\/a>/);
  t.equal(peer.messages.length, 0, 'nothing delivered');
});
