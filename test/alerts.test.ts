import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../src/app.js';
import { Client, createAccount, signIn, testConfig, text } from './helper.js';
import { apiOrigin, fastOutboxEnv, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';
import { startWebhookPeer } from './webhook-peer.js';
import { eventually, optedInAdmin } from './alert-support.js';

t.setTimeout(600_000);

const secret = 'webhook-secret-for-the-tests';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An instance with neither alert pass nor worker: what it writes is there before the first pass, which takes it as its baseline. */
function setupApp(t: Test, store: TestStore) {
  return outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
}

function alertEnv(webhookUrl: string, env: Record<string, string> = {}) {
  return { RELAIS_ALERT_INTERVAL_SECONDS: '0.2', RELAIS_ALERT_WEBHOOK_URL: webhookUrl, RELAIS_ALERT_WEBHOOK_SECRET: secret, RELAIS_SERVER_DOWN_AFTER_FAILURES: '1', ...env };
}

async function accept(app: FastifyInstance, overrides: Parameters<typeof message>[0] = {}) {
  const outcome = await app.outbox.accept(message(overrides), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
  return outcome.message;
}

await forEachStore(t, 'a server that goes down makes one alert mail and one webhook call, coming back one more of each', async (t: Test, store: TestStore) => {
  let refusing = false;
  const vente = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(refusing ? Object.assign(new Error('Service not available, closing channel'), { responseCode: 421 }) : null);
    },
  });
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);
  const setup = await setupApp(t, store);
  const venteId = await sendingServerFor(setup.stores, { title: 'Vente SMTP', port: vente.port, departments: ['vente'] });
  const alertId = await sendingServerFor(setup.stores, { title: 'Alertes SMTP', port: alertPeer.port, departments: ['achat'] });
  const admin = await optedInAdmin(setup, 'veille@exemple.fr');
  await createAccount(setup, 'admin', { email: 'silencieux@exemple.fr' });
  t.equal((await admin.post('/alertes', { server: String(alertId) })).statusCode, 303, 'the alert server is chosen on /alertes');
  t.equal(await setup.stores.alerts.alertServerId(), alertId);
  const app = await outboxApp(t, store, alertEnv(hook.url, { RELAIS_SERVER_DOWN_SECONDS: '4', RELAIS_ALERT_SUBJECT_MINUTES: '0' }));

  t.equal((await until(app, (await accept(app)).id, ['sent'])).serverId, venteId, 'the department sends through its server');
  await pause(600);
  t.equal(alertPeer.messages.length, 0, 'nothing to tell while everything works');

  refusing = true;
  await accept(app);
  const first = await alertPeer.message(1, 20_000);
  t.equal(first.mail.subject, '[Relais] 2 alertes', 'the server and its department in one summary');
  const body = first.mail.text ?? '';
  t.match(body, 'Le serveur « Vente SMTP » est en panne');
  t.match(body, 'Service not available');
  t.match(body, 'Le service « Vente » n’a plus aucun serveur utilisable');
  t.match(body, `http://relais.test/smtp-servers/${venteId}/edit`, 'a link to the server page');
  t.match(body, 'http://relais.test/departments/vente');
  t.match(String(first.mail.html), `href="http://relais.test/smtp-servers/${venteId}/edit"`, 'the HTML part links too');
  t.same(first.envelope.rcptTo.map((r) => r.address), ['veille@exemple.fr'], 'only the administrator who opted in');
  t.equal(first.envelope.mailFrom && first.envelope.mailFrom.address, 'alertes-smtp@exemple.fr', 'sent through the alert server, never the failed one');
  t.equal(vente.messages.length, 1, 'the failed server received nothing more');

  await eventually('the webhook call', () => hook.calls.length >= 1);
  t.equal(hook.calls.length, 1, 'one webhook call');
  t.ok(hook.calls[0]!.signatureValid, 'its HMAC signature checks out');
  t.same(hook.calls[0]!.json.events.map((e) => e.kind).sort(), ['departmentNoServer', 'serverDown']);
  t.equal(hook.calls[0]!.json.events.find((e) => e.kind === 'serverDown')!.serverId, venteId);

  // The cool-down ends, the waiting message goes: the server is back.
  refusing = false;
  const second = await alertPeer.message(2, 30_000);
  t.equal(second.mail.subject, '[Relais] 2 alertes');
  t.match(second.mail.text ?? '', 'Le serveur « Vente SMTP » fonctionne de nouveau.');
  t.match(second.mail.text ?? '', 'Le service « Vente » a de nouveau un serveur utilisable (Vente SMTP).');
  await eventually('the second webhook call', () => hook.calls.length >= 2);
  t.same(hook.calls[1]!.json.events.map((e) => e.kind).sort(), ['departmentRestored', 'serverUp']);
  t.ok(hook.calls[1]!.signatureValid);
  await pause(1000);
  t.equal(alertPeer.messages.length, 2, 'no third mail');
  t.equal(hook.calls.length, 2, 'no third call');
});

await forEachStore(t, 'one mail per subject per hour: the changes held back go in the next mail, said so', async (t: Test, store: TestStore) => {
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);
  const setup = await setupApp(t, store);
  const flakyId = await sendingServerFor(setup.stores, { title: 'Instable', port: 1, departments: [] });
  await sendingServerFor(setup.stores, { title: 'Alertes SMTP', port: alertPeer.port, departments: ['achat'] });
  await optedInAdmin(setup, 'veille@exemple.fr');
  const app = await outboxApp(t, store, alertEnv(hook.url, { RELAIS_ALERT_SUBJECT_MINUTES: '0.25' }));
  await pause(500);

  const goDown = () => app.stores.outbox.serverFailed(flakyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  await goDown();
  const first = await alertPeer.message(1, 20_000);
  t.equal(first.mail.subject, '[Relais] Serveur « Instable » en panne');

  await app.stores.outbox.serverSucceeded(flakyId, new Date());
  await eventually('the return held back', async () => (await app.stores.alerts.recent(10)).some((e) => e.kind === 'serverUp' && e.mailState === 'held'));
  await goDown();
  await eventually('the second failure held back', async () => (await app.stores.alerts.recent(10)).filter((e) => e.mailState === 'held').length === 2);
  t.equal(alertPeer.messages.length, 1, 'no second mail within the limit');

  const second = await alertPeer.message(2, 40_000);
  t.equal(second.mail.subject, '[Relais] 2 alertes');
  const body = second.mail.text ?? '';
  t.match(body, 'Retenu par la limite d’un message par sujet et par heure');
  t.match(body, 'Le serveur « Instable » fonctionne de nouveau.');
  t.match(body, 'Le serveur « Instable » est en panne');
  // Marked once the mail has gone, a moment after the peer has it.
  const states = await eventually('every change marked mailed', async () => {
    const recent = await app.stores.alerts.recent(10);
    return recent.every((e) => e.mailState === 'sent') && recent;
  });
  t.same(states.map((e) => e.kind), ['serverDown', 'serverUp', 'serverDown'], 'every change mailed once');
  await eventually('every change posted', async () => hook.calls.flatMap((c) => c.json.events).length === 3);
  t.ok(hook.calls.every((c) => c.signatureValid));
});

await forEachStore(t, 'two instances on one database: one mail, one webhook call', async (t: Test, store: TestStore) => {
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);
  // No hourly limit: only the lease and the snapshot keep the second instance from telling it again.
  const env = alertEnv(hook.url, { RELAIS_ALERT_SUBJECT_MINUTES: '0', RELAIS_ALERT_INTERVAL_SECONDS: '0.1' });
  const setup = await setupApp(t, store);
  const flakyId = await sendingServerFor(setup.stores, { title: 'Instable', port: 1, departments: [] });
  await sendingServerFor(setup.stores, { title: 'Alertes SMTP', port: alertPeer.port, departments: ['achat'] });
  await optedInAdmin(setup, 'veille@exemple.fr');
  const one = await outboxApp(t, store, env);
  const two = await outboxApp(t, store, env);
  await pause(500);
  await two.stores.outbox.serverFailed(flakyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  await alertPeer.message(1, 20_000);
  await eventually('the webhook call', () => hook.calls.length >= 1);
  await pause(1500);
  t.equal(alertPeer.messages.length, 1, 'one mail, not two');
  t.equal(hook.calls.length, 1, 'one webhook call, not two');
  t.equal((await one.stores.alerts.recent(10)).length, 1, 'one event recorded');
});

await forEachStore(t, 'a message that fails for good makes an alert, in English for who opted in in English, with a link to it in the send log', async (t: Test, store: TestStore) => {
  const refusing = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
    },
  });
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);
  const setup = await setupApp(t, store);
  await sendingServerFor(setup.stores, { title: 'Vente SMTP', port: refusing.port, departments: ['vente'] });
  await sendingServerFor(setup.stores, { title: 'Alertes SMTP', port: alertPeer.port, departments: ['achat'] });
  await optedInAdmin(setup, 'watch@example.com', 'en');
  const app = await outboxApp(t, store, alertEnv(hook.url, { RELAIS_SERVER_DOWN_AFTER_FAILURES: '5' }));
  await pause(500);
  const failed = await until(app, (await accept(app, { subject: 'Facture 77' })).id, ['failed']);
  const mail = await alertPeer.message(1, 20_000);
  t.equal(mail.mail.subject, '[Relais] A message of department vente failed', 'in the language the opt-in was saved in');
  t.match(mail.mail.text ?? '', 'Message “Facture 77” (department vente) failed for good');
  t.match(mail.mail.text ?? '', 'No such user here');
  t.match(mail.mail.text ?? '', `http://relais.test/messages/${failed.id}`);
  await eventually('the webhook call', () => hook.calls.length >= 1);
  t.same(hook.calls[0]!.json.events.map((e) => [e.kind, e.publicId]), [['messageFailed', failed.id]]);
  await pause(800);
  t.equal(alertPeer.messages.length, 1, 'told once: the cursor moved past it');
});

await forEachStore(t, 'no usable server for the alert mail: the alert waits, and goes once one is usable', async (t: Test, store: TestStore) => {
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);
  const setup = await setupApp(t, store);
  const onlyId = await sendingServerFor(setup.stores, { title: 'Seul', port: alertPeer.port, departments: ['vente'] });
  await optedInAdmin(setup, 'veille@exemple.fr');
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : os.tmpdir();
  const app = await buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb, ...fastOutboxEnv, ...alertEnv(hook.url), LOG_LEVEL: 'info' }), { logStream });
  t.teardown(() => app.close());
  await pause(500);
  await app.stores.outbox.serverFailed(onlyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  await eventually('the alerts recorded', async () => (await app.stores.alerts.recent(10)).length === 2);
  await pause(800);
  t.equal(alertPeer.messages.length, 0, 'never through the server it reports down');
  t.same((await app.stores.alerts.recent(10)).map((e) => e.mailState), ['pending', 'pending'], 'still pending');
  t.match(lines.join(''), 'no usable server to send the alert mail through', 'the log says why');
  await app.stores.outbox.serverSucceeded(onlyId, new Date());
  const mail = await alertPeer.message(1, 20_000);
  t.equal(mail.mail.subject, '[Relais] 4 alertes', 'the failure and the return in one mail, through the server that is back');
  t.match(mail.mail.text ?? '', 'Le serveur « Seul » est en panne');
  t.match(mail.mail.text ?? '', 'Le serveur « Seul » fonctionne de nouveau.');
});

await forEachStore(t, 'opt-in: the account page round-trips the setting, refuses bad input with 422; /alertes too', async (t: Test, store: TestStore) => {
  const app = await outboxApp(t, store);
  const user = await createAccount(app, 'admin', { email: 'moi@exemple.fr' });
  const client = new Client(app);
  await signIn(client, user.email);
  const page = await client.get('/smtp-servers');
  t.match(page.body, 'href="/account/alerts"', 'reached from the navigation');
  t.match(page.body, 'href="/alertes"');

  let form = await client.get('/account/alerts');
  t.equal(form.statusCode, 200);
  t.notMatch(form.body, /name="optIn" value="on" checked/);
  t.equal((await client.post('/account/alerts', { optIn: 'on' })).statusCode, 303);
  t.same(await app.stores.alerts.optInOf(user.id), { optIn: true, locale: 'fr' });
  form = await client.get('/account/alerts');
  t.match(form.body, /name="optIn" value="on" checked/, 'shown ticked');
  t.match(text(form.body), 'Vous recevrez les alertes à moi@exemple.fr.');

  const bad = await client.post('/account/alerts', { optIn: 'peut-être' });
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /id="optIn-error"[^>]*>Cochez la case ou laissez-la vide\./);
  t.match(bad.body, /aria-invalid="true" aria-describedby="optIn-error"/);
  t.same(await app.stores.alerts.optInOf(user.id), { optIn: true, locale: 'fr' }, 'unchanged');

  await client.get('/language?lang=en&next=/account/alerts');
  t.equal((await client.post('/account/alerts', {})).statusCode, 303, 'unticked');
  t.same(await app.stores.alerts.optInOf(user.id), { optIn: false, locale: 'en' });
  t.same(await app.stores.alerts.recipients(), []);

  const settings = await client.get('/alertes');
  t.equal(settings.statusCode, 200);
  t.match(text(settings.body), 'No administrator has asked for alerts.', 'nobody left, in the page’s language');
  t.match(settings.body, /<option value="auto" selected>/, 'automatic by default');
  for (const server of ['999999', 'abc', '-1']) {
    const res = await client.post('/alertes', { server });
    t.equal(res.statusCode, 422, `server=${server} refused`);
    t.match(res.body, 'id="server-error"');
  }
  t.equal(await app.stores.alerts.alertServerId(), null, 'still automatic');
});

await forEachStore(t, 'a webhook that keeps failing is tried three times in all, logged, never with its secret', async (t: Test, store: TestStore) => {
  const hook = await startWebhookPeer(t, secret, { status: () => 500 });
  const setup = await setupApp(t, store);
  const flakyId = await sendingServerFor(setup.stores, { title: 'Instable', port: 1, departments: [] });
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : os.tmpdir();
  const app = await buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb, ...fastOutboxEnv, ...alertEnv(hook.url), LOG_LEVEL: 'info' }), { logStream });
  t.teardown(() => app.close());
  await pause(500);
  await app.stores.outbox.serverFailed(flakyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  const [event] = await eventually('the webhook given up', async () => {
    const recent = await app.stores.alerts.recent(10);
    return recent.length === 1 && recent[0]!.webhookState === 'failed' && recent;
  });
  t.equal(event!.webhookAttempts, 3);
  await pause(800);
  t.equal(hook.calls.length, 3, 'three calls, then no more');
  t.ok(hook.calls.every((c) => c.signatureValid), 'each signed');
  const log = lines.join('');
  t.match(log, 'the webhook failed; tried again at the next pass');
  t.match(log, 'given up after 3 attempts');
  t.match(log, 'the webhook answered 500');
  t.notMatch(log, secret, 'the secret is never logged');
  t.notMatch(log, '/hooks/relais', 'nor the URL’s path (it may hold a token)');
});

await forEachStore(t, 'the webhook obeys the outbound address rules: 127.0.0.1 refused unless allowed', async (t: Test, store: TestStore) => {
  const hook = await startWebhookPeer(t, secret);
  const setup = await setupApp(t, store);
  const flakyId = await sendingServerFor(setup.stores, { title: 'Instable', port: 1, departments: [] });
  const app = await outboxApp(t, store, { ...alertEnv(hook.url), RELAIS_SMTP_ALLOWED_NETWORKS: '', RELAIS_ALERT_WEBHOOK_ATTEMPTS: '1' });
  await pause(500);
  await app.stores.outbox.serverFailed(flakyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  await eventually('the webhook given up', async () => (await app.stores.alerts.recent(10))[0]?.webhookState === 'failed');
  t.equal(hook.calls.length, 0, 'the loopback address was never called');
});

await forEachStore(t, 'alerts done with are pruned after their retention, pending ones never', async (t: Test, store: TestStore) => {
  const app = await setupApp(t, store);
  const old = new Date(Date.now() - 100 * 86_400_000);
  const event = (subject: string, webhook: boolean) => ({ at: old, kind: 'serverUp' as const, subject, params: { serverId: 1, title: 'A' }, webhook });
  await app.stores.alerts.insertEvents([event('server:1', false), event('server:2', false), event('server:3', true), event('server:4', false)]);
  const [fourth, third, second, first] = await app.stores.alerts.recent(10);
  await app.stores.alerts.markMailed([first!.id, third!.id], 'sent', old);
  await app.stores.alerts.markMailed([second!.id], 'held', old);
  await app.stores.alerts.markMailed([fourth!.id], 'unsent', old);
  t.equal(await app.stores.alerts.pruneEvents(new Date(Date.now() - 90 * 86_400_000)), 2, 'the mailed one without webhook, the one nobody could get');
  t.same((await app.stores.alerts.recent(10)).map((e) => e.subject), ['server:3', 'server:2'], 'kept: its webhook call is pending; held for the next mail');
});
