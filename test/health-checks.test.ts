// The connection test that runs by itself: on schedule, on the real path, its result kept on the server; the
// certificate it saw flagged when it expires soon or changes issuer; a server that stops answering « en panne ».
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { systemActor } from '../src/audit/store.js';
import { loadConfig } from '../src/config.js';
import { routeOf } from '../src/departments/routing.js';
import { certificateWarningOf, issuerChangeFlagMs } from '../src/health-checks/certificates.js';
import { nextSlotAfter, offsetOf } from '../src/health-checks/schedule.js';
import type { KeptCertificate } from '../src/health-checks/store.js';
import { adminClient, auditTrail, testConfig, text } from './helper.js';
import { sendingServerFor } from './outbox-helpers.js';
import { acceptEverything, serverThrough, startRawService, startSmtpPeer, type PeerOptions } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';
import { tlsFixtures } from './tls-fixtures.js';

t.setTimeout(300_000);

// Every 3 s: a few checks within a test.
const checksEnv = {
  RELAIS_HEALTH_CHECK_MINUTES: '0.05',
  RELAIS_SMTP_CONNECT_TIMEOUT_MS: '2000',
  RELAIS_SMTP_GREETING_TIMEOUT_MS: '4000',
  RELAIS_SERVER_DOWN_SECONDS: '1',
};
const intervalMs = 3000;

function appOn(store: TestStore, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : '/tmp';
  return buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb, ...checksEnv, ...env }), { logger: false });
}

async function checkedApp(t: Test, store: TestStore, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await appOn(store, env);
  t.teardown(() => app.close());
  return app;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still not after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A peer that counts the checks it sees: each check says MAIL FROM once (and never DATA). */
async function countingPeer(t: Test, options: PeerOptions = {}) {
  const seen = { mailFrom: 0, data: 0 };
  const peer = await startSmtpPeer(t, {
    disabledCommands: ['STARTTLS'],
    ...options,
    onMailFrom(_address, _session, callback) {
      seen.mailFrom++;
      callback();
    },
    onData(stream, _session, callback) {
      seen.data++;
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  return Object.assign(peer, { seen });
}

t.test('each server has its own place in the interval, and its next check is one interval later', async (t) => {
  const offsets = [1, 2, 3, 4, 5].map((id) => offsetOf(id, 900_000));
  t.equal(new Set(offsets.map((o) => Math.floor(o / 60_000))).size, 5, 'five servers, five different minutes of the quarter hour');
  const first = nextSlotAfter(7, new Date('2026-01-01T10:00:00Z'), 900_000);
  t.ok(first.getTime() > Date.parse('2026-01-01T10:00:00Z') && first.getTime() <= Date.parse('2026-01-01T10:15:00Z'));
  t.equal(nextSlotAfter(7, first, 900_000).getTime() - first.getTime(), 900_000);
});

t.test('certificateWarningOf: 30, 14, 7 days, expired, issuer changed', async (t) => {
  const now = new Date('2026-03-01T12:00:00Z');
  const cert = (days: number, extra: Partial<KeptCertificate> = {}): KeptCertificate => ({
    serverId: 1,
    subject: 'CN=mail.exemple.fr',
    issuer: 'CN=R11, O=Let’s Encrypt, C=US',
    validTo: new Date(now.getTime() + days * 86_400_000),
    fingerprint: 'AA:BB',
    seenAt: now,
    previousIssuer: null,
    issuerChangedAt: null,
    ...extra,
  });
  t.equal(certificateWarningOf(cert(45), now), null, 'far away: nothing to say');
  t.same(certificateWarningOf(cert(30), now), { threshold: 30, daysLeft: 30, issuerChanged: false });
  t.same(certificateWarningOf(cert(20), now), { threshold: 30, daysLeft: 20, issuerChanged: false });
  t.same(certificateWarningOf(cert(10), now), { threshold: 14, daysLeft: 10, issuerChanged: false });
  t.same(certificateWarningOf(cert(9.5), now), { threshold: 14, daysLeft: 10, issuerChanged: false }, 'days rounded up');
  t.same(certificateWarningOf(cert(3), now), { threshold: 7, daysLeft: 3, issuerChanged: false });
  t.same(certificateWarningOf(cert(-1), now), { threshold: 'expired', daysLeft: -1, issuerChanged: false });
  t.equal(certificateWarningOf(null, now), null);
  const changed = cert(200, { previousIssuer: 'CN=Old CA', issuerChangedAt: new Date(now.getTime() - 3_600_000) });
  t.same(certificateWarningOf(changed, now), { threshold: null, daysLeft: 200, issuerChanged: true });
  t.equal(certificateWarningOf(changed, new Date(now.getTime() + issuerChangeFlagMs)), null, 'an old change is no longer flagged');
});

t.test('RELAIS_HEALTH_CHECK_MINUTES: 15 by default, fractions, 0 turns it off, nonsense refused', async (t) => {
  t.equal(loadConfig({}).healthCheckIntervalMs, 900_000);
  t.equal(loadConfig({ RELAIS_HEALTH_CHECK_MINUTES: '0.05' }).healthCheckIntervalMs, 3000);
  t.equal(loadConfig({ RELAIS_HEALTH_CHECK_MINUTES: '0' }).healthCheckIntervalMs, 0);
  t.throws(() => loadConfig({ RELAIS_HEALTH_CHECK_MINUTES: 'often' }), /RELAIS_HEALTH_CHECK_MINUTES must be a non-negative number/);
});

forEachStore(t, 'checks run on schedule, without anyone asking', async (t, store) => {
  const app = await checkedApp(t, store);
  const admin = await adminClient(app);
  const peer = await countingPeer(t);
  const quiet = await countingPeer(t);
  // Through the form, with a password: the check uses the stored one, as « Tester » does.
  const id = await serverThrough(admin, peer, { title: 'Vente planifiée' });
  const off = await serverThrough(admin, quiet, { title: 'Éteint' });
  const servers = app.repositories.smtpServers;
  // Never confirmed, so no department is left without a usable server.
  await servers.setServerActive(off, false, systemActor);

  await until('two scheduled checks', async () => peer.seen.mailFrom >= 2);
  t.ok(peer.authAttempts >= 2, 'it signed in with the stored password each time');
  t.equal(peer.seen.data, 0, 'never DATA: nothing was sent');
  t.equal(peer.messages.length, 0);
  const server = (await servers.findServer(id))!;
  t.ok(server.lastTestAt, 'the last test is on the server');
  t.equal(server.lastTestOk, true);
  t.match(JSON.parse(server.lastTestSummary!), { ok: true, target: { host: '127.0.0.1', port: peer.port } });
  const state = (await app.stores.healthChecks.find(id))!;
  t.equal(state.lastOk, true);
  t.ok(state.dueAt.getTime() > Date.now() - intervalMs, 'the next one is due within the interval');

  t.equal(quiet.connections, 0, 'the deactivated server was never checked');
  t.equal((await servers.findServer(off))!.lastTestAt, null);

  const list = await admin.get('/smtp-servers');
  t.match(text(list.body), /Vente planifiée.*Test réussi le/, 'the list shows the last test, as after « Tester »');
  const page = text((await admin.get(`/smtp-servers/${id}/edit`)).body);
  t.match(page, /Dernier test automatique ✔ réussi le/);
  t.match(page, /Prochain test automatique \d\d\/\d\d\/\d{4}/);
  t.equal((await auditTrail(app, 'server.test')).length, 0, 'a routine check writes no audit line');
  t.equal((await auditTrail(app, 'server.healthCheck.down')).length, 0);
});

forEachStore(t, 'a certificate that expires in 10 days, then one from another issuer, is flagged', async (t, store) => {
  const tls = tlsFixtures();
  const app = await checkedApp(t, store, { RELAIS_SMTP_CA_FILE: tls.caFile });
  const admin = await adminClient(app);
  const soon = tls.expiringIn(10);
  const peer = await countingPeer(t, { secure: true, key: soon.key, cert: soon.cert, disabledCommands: [] });
  const id = await serverThrough(admin, peer, { title: 'Certificat court', security: 'tls' });

  const kept = await until('the certificate kept', async () => (await app.stores.healthChecks.certificatesOf([id])).get(id));
  t.equal(kept.issuer, 'CN=Relais Test CA');
  t.equal(kept.subject, 'CN=mail.relais.test');
  t.match(kept.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.ok(kept.validTo && Math.abs(kept.validTo.getTime() - (Date.now() + 10 * 86_400_000)) < 86_400_000, 'about ten days away');
  t.equal((await app.repositories.smtpServers.findServer(id))!.lastTestOk, true, 'trusted through RELAIS_SMTP_CA_FILE: the test passes');

  const list = text((await admin.get('/smtp-servers')).body);
  t.match(list, /Certificat court.*⚠ Certificat : expire dans 10 j/, 'flagged on the list, in words beside the icon');
  const page = text((await admin.get(`/smtp-servers/${id}/edit`)).body);
  t.match(page, '⚠ Le certificat expire dans 10 jours');
  t.match(page, 'Émetteur CN=Relais Test CA');
  t.match(text((await admin.get(`/smtp-servers/${id}/test`)).body), 'Empreinte SHA-256', 'the « Tester » report shows the fingerprint too');
  const expiring = await auditTrail(app, 'server.certificate.expiring');
  t.equal(expiring.length, 1, 'the threshold crossed is audited once, not at each check');

  // The same port now answers with a certificate of another issuer.
  await peer.close();
  const other = await countingPeer(t, { secure: true, key: tls.selfSigned.key, cert: tls.selfSigned.cert, disabledCommands: [], listenPort: peer.port });
  const changed = await until('the issuer change', async () => {
    const c = (await app.stores.healthChecks.certificatesOf([id])).get(id);
    return c && c.issuer !== 'CN=Relais Test CA' ? c : null;
  });
  t.equal(changed.issuer, 'CN=self.relais.test');
  t.equal(changed.previousIssuer, 'CN=Relais Test CA');
  t.ok(other.connections >= 1);
  t.same(certificateWarningOf(changed, new Date())?.issuerChanged, true);
  t.match(text((await admin.get('/smtp-servers')).body), /Certificat court.*⚠ Émetteur du certificat changé/);
  t.match(text((await admin.get(`/smtp-servers/${id}/edit`)).body), /L’émetteur du certificat a changé le .* « CN=Relais Test CA » avant, « CN=self.relais.test » maintenant/);
  const audited = await auditTrail(app, 'server.certificate.issuerChanged');
  t.equal(audited.length, 1);
  t.same(audited[0]!.changes, { certificateIssuer: ['CN=Relais Test CA', 'CN=self.relais.test'] });
});

forEachStore(t, 'a server that stops answering is « en panne » and skipped; the next success clears it', async (t, store) => {
  const app = await checkedApp(t, store);
  // Relais signs in to no server here (authentication « none »).
  const peer = await countingPeer(t, { authOptional: true });
  const id = await sendingServerFor(app.stores, { title: 'Principal', port: peer.port, departments: ['vente'] });
  const usable = async () => (await routeOf(app.stores.departments, 'vente'))!.usable.map((s) => s.id);
  await until('a first check', async () => (await app.stores.healthChecks.find(id))?.lastOk === true);
  t.same(await usable(), [id]);

  await peer.close();
  await until('the server down', async () => (await routeOf(app.stores.departments, 'vente'))!.servers.find((s) => s.id === id)?.skip === 'down');
  t.same(await usable(), [], 'routing skips it');
  const row = (await app.stores.servers.find(id))!;
  t.match(row.lastError, /diagnosis\.connectionRefused/, 'the last error says why, as a diagnosis to put in words');
  t.ok(row.downUntil && row.downUntil.getTime() > Date.now(), 'down until the next check at least');
  t.equal((await app.repositories.smtpServers.findServer(id))!.lastTestOk, false);

  const back = await countingPeer(t, { authOptional: true, listenPort: peer.port });
  await until('a check that passes again', async () => (await app.stores.healthChecks.find(id))?.lastOk === true);
  t.ok(back.seen.mailFrom >= 1, 'the check that cleared it reached the server');
  t.same(await usable(), [id], 'routing uses it again');
  const cleared = (await app.stores.servers.find(id))!;
  t.equal(cleared.downUntil, null);
  t.equal(cleared.consecutiveFailures, 0);
  const down = await auditTrail(app, 'server.healthCheck.down');
  const up = await auditTrail(app, 'server.healthCheck.up');
  t.equal(down.length, 1, 'going down audited once, however many checks failed');
  t.equal(up.length, 1);
  t.equal(down[0]!.actor, 'system', 'by Relais itself, no user');
  t.equal(down[0]!.targetId, String(id));
});

forEachStore(t, 'closing the app while a check runs waits for it and ends cleanly', async (t, store) => {
  let greeted = 0;
  // A server that takes 1.5 s to greet: the check is under way when the app is told to close.
  const slow = await startRawService(t, '220 slow.test ESMTP\r\n', { delayMs: 1500, answer: (line) => (greeted++, acceptEverything(line)) });
  const app = await appOn(store);
  const id = await sendingServerFor(app.stores, { title: 'Lent', port: slow.port });
  await until('a check under way', async () => slow.connections() >= 1);
  await app.close();
  t.ok(greeted >= 3, 'the check went on to the end of its conversation before the app closed');

  // The same database, opened again: the result of the check the close waited for is there.
  const again = await appOn(store, { RELAIS_HEALTH_CHECK_MINUTES: '0' });
  t.teardown(() => again.close());
  const state = (await again.stores.healthChecks.find(id))!;
  t.equal(state.lastOk, true);
  t.ok((await again.repositories.smtpServers.findServer(id))!.lastTestAt);
});

forEachStore(t, 'a server edited while its check runs: that result is dropped and the new settings are checked at once', async (t, store) => {
  const slow = await startRawService(t, '220 slow.test ESMTP\r\n', { delayMs: 1500, answer: acceptEverything });
  const app = await checkedApp(t, store);
  const id = await sendingServerFor(app.stores, { title: 'Modifié', port: slow.port });
  await until('a check under way', async () => slow.connections() >= 1);
  const editedAt = Date.now();
  t.equal(await app.stores.servers.update(id, { senderName: 'Service modifié' }), 'updated');
  const server = await until('a result kept', async () => {
    const found = await app.repositories.smtpServers.findServer(id);
    return found?.lastTestAt ? found : null;
  });
  t.ok(Date.parse(JSON.parse(server.lastTestSummary!).startedAt) >= editedAt, 'the result kept is of a check begun after the edit');
  t.equal(server.senderName, 'Service modifié');
});
