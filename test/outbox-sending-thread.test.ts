// The outbox's sending thread on its own, against a real SMTP peer: it composes and sends off the main thread, asks this
// side for a server's auth once per pool (the password reaches the server it is for, and only once per pool), opens a
// new pool when told to forget a server, reports a server's refusal with its reply, and starts again after a close.
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { createSendingThread } from '../src/outbox/sender.js';
import type { Composition } from '../src/outbox/sending-protocol.js';
import { smtpSettingsFrom } from '../src/smtp/endpoint.js';
import { SendFailure, type PooledEndpoint } from '../src/smtp/transports.js';
import { testSmtpEnv } from './helper.js';
import { peerUser, startSmtpPeer } from './smtp-peer.js';

const silentLog = { error() {}, warn() {}, info() {}, debug() {}, trace() {}, fatal() {}, child: () => silentLog, level: 'silent', silent() {} } as never;
const settings = smtpSettingsFrom(loadConfig({ NODE_ENV: 'test', RELAIS_SECRET: 'x'.repeat(40), ...testSmtpEnv }));

function composition(subject: string, overrides: Partial<Composition> = {}): Composition {
  return {
    message: { to: ['client@exemple.fr'], cc: [], bcc: [], replyTo: null, subject, messageId: `<${subject.replace(/\W/g, '')}@relais.test>`, pendingRecipients: null },
    content: { text: 'Bonjour.', html: null, attachments: [{ filename: 'devis.txt', contentType: 'text/plain', content: Buffer.from('ligne 1\n') }] },
    sender: { senderName: 'Service Vente', email: 'vente@exemple.fr', signature: '' },
    logo: null,
    at: new Date('2026-12-02T10:00:00Z'),
    ...overrides,
  };
}

const endpoint = (port: number, version = 1): PooledEndpoint => ({
  id: 1,
  version,
  host: '127.0.0.1',
  port,
  security: 'none',
  authentication: 'password',
  email: 'vente@exemple.fr',
  username: peerUser.username,
  verifyCertificate: true,
});

t.test('composes and sends on the thread; the auth is asked once per pool, again after forget', async (t) => {
  const peer = await startSmtpPeer(t, { authOptional: false, disabledCommands: ['STARTTLS'] });
  const sender = createSendingThread(settings, { connections: 2, sendTimeoutMs: 5000, log: silentLog });
  t.teardown(() => sender.close());
  let asked = 0;
  const auth = async () => (asked++, { user: peerUser.username, pass: peerUser.password });

  const first = await sender.send(endpoint(peer.port), composition('Devis 1'), auth);
  t.match(first.response, /^250 /);
  t.same(first.accepted, ['client@exemple.fr']);
  const received = await peer.message(1);
  t.equal(received.mail.subject, 'Devis 1');
  t.equal(received.mail.messageId, '<Devis1@relais.test>');
  t.equal(received.mail.from?.text, '"Service Vente" <vente@exemple.fr>');
  t.equal(received.mail.attachments[0]?.filename, 'devis.txt');
  t.equal(received.mail.attachments[0]?.content.toString(), 'ligne 1\n', 'an attachment crosses the thread with its bytes');
  t.equal(received.user, peerUser.username, 'the password reached its server');

  await sender.send(endpoint(peer.port), composition('Devis 2'), auth);
  t.equal(asked, 1, 'the second message used the open pool');

  sender.forget(1);
  await sender.send(endpoint(peer.port), composition('Devis 3'), auth);
  t.equal(asked, 2, 'a forgotten server opens a new pool, which asks again');
  t.equal(peer.messages.length, 3);
});

t.test('an edit between two messages: the pool of the old row version never gets the new row\'s password', async (t) => {
  const before = await startSmtpPeer(t, { authOptional: false, disabledCommands: ['STARTTLS'] });
  const after = await startSmtpPeer(t, { authOptional: false, disabledCommands: ['STARTTLS'], users: { [peerUser.username]: 'N0uveau-Passw0rd!' } });
  const sender = createSendingThread(settings, { connections: 1, sendTimeoutMs: 5000, log: silentLog });
  t.teardown(() => sender.close());
  // Handed over in the same turn, as the worker does with a row read before the edit and one read after it: the thread
  // opens the old version's pool after the new version's auth was registered.
  const old = sender.send(endpoint(before.port, 1), composition('Avant la modification'), async () => ({ user: peerUser.username, pass: peerUser.password }));
  const edited = sender.send(endpoint(after.port, 2), composition('Après la modification'), async () => ({ user: peerUser.username, pass: 'N0uveau-Passw0rd!' }));
  const refused = await old.catch((err: unknown) => err);
  t.ok(refused instanceof SendFailure);
  t.match((refused as SendFailure).cause.message, /changed/);
  t.equal(before.authAttempts, 0, 'the old host was sent no password at all');
  t.match((await edited).response, /^250 /);
  t.equal((await after.message(1)).mail.subject, 'Après la modification');
  t.equal(after.authAttempts, 1);
});

t.test("a server's refusal comes back as a SendFailure with its reply; an auth that fails is the send's failure", async (t) => {
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('5.1.1 Mailbox unknown'), { responseCode: 550 }));
    },
  });
  const sender = createSendingThread(settings, { connections: 1, sendTimeoutMs: 5000, log: silentLog });
  t.teardown(() => sender.close());
  const refused = await sender.send({ ...endpoint(peer.port), authentication: 'none' }, composition('Refusé'), async () => undefined).catch((err: unknown) => err);
  t.ok(refused instanceof SendFailure);
  const failure = refused as SendFailure;
  t.equal(failure.cause.responseCode, 550);
  t.equal(failure.cause.code, 'EENVELOPE');
  t.match(failure.cause.response, /550 5\.1\.1 Mailbox unknown/);
  t.equal(failure.afterData, false);

  const noAuth = await sender
    .send({ ...endpoint(peer.port, 2), id: 2 }, composition('Sans jeton'), async () => {
      throw Object.assign(new Error('token request to https://login.example/token failed: invalid_client'), { code: 'EOAUTHTOKEN' });
    })
    .catch((err: unknown) => err);
  t.ok(noAuth instanceof SendFailure);
  t.equal((noAuth as SendFailure).cause.code, 'EOAUTHTOKEN', 'the error keeps its code across the thread');
  t.match((noAuth as SendFailure).cause.message, /invalid_client/);
});

t.test('recipients refused one by one cross the thread with their replies; the envelope goes to the pending recipients only', async (t) => {
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('reject')) return callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      if (address.address.startsWith('grey')) return callback(Object.assign(new Error('Later'), { responseCode: 451 }));
      callback();
    },
  });
  const sender = createSendingThread(settings, { connections: 1, sendTimeoutMs: 5000, log: silentLog });
  t.teardown(() => sender.close());
  const none = { ...endpoint(peer.port), authentication: 'none' as const };
  const message = { ...composition('Trois').message, to: ['ok@exemple.fr', 'reject@exemple.fr'], cc: ['grey@exemple.fr'] };
  const delivery = await sender.send(none, composition('Trois', { message }), async () => undefined);
  t.same(delivery.accepted, ['ok@exemple.fr']);
  t.same(delivery.refused, [
    { recipient: 'reject@exemple.fr', responseCode: 550, response: '550 No such user here' },
    { recipient: 'grey@exemple.fr', responseCode: 451, response: '451 Later' },
  ]);

  const allRefused = await sender.send(none, composition('Deux', { message: { ...message, pendingRecipients: ['reject@exemple.fr', 'grey@exemple.fr'] } }), async () => undefined).catch((err: unknown) => err);
  t.ok(allRefused instanceof SendFailure);
  t.equal((allRefused as SendFailure).cause.responseCode, 451, 'nodemailer reports the temporary one for the whole');
  t.same((allRefused as SendFailure).cause.refused?.map((r) => [r.recipient, r.responseCode]), [['reject@exemple.fr', 550], ['grey@exemple.fr', 451]], 'and each one\'s reply crosses the thread');

  await sender.send(none, composition('Un', { message: { ...message, pendingRecipients: ['ok@exemple.fr'] } }), async () => undefined);
  const last = peer.messages.at(-1)!;
  t.same(last.envelope.rcptTo.map((r) => r.address), ['ok@exemple.fr'], 'only the pending recipient in the envelope');
  t.same(last.mail.cc && !Array.isArray(last.mail.cc) ? last.mail.cc.value.map((a) => a.address) : null, ['grey@exemple.fr'], 'the headers unchanged');
});

t.test('a message that cannot be composed is not a server failure; after close, the next send starts a new thread', async (t) => {
  const peer = await startSmtpPeer(t, { authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] });
  const sender = createSendingThread(settings, { connections: 1, sendTimeoutMs: 5000, log: silentLog });
  t.teardown(() => sender.close());
  const none = { ...endpoint(peer.port), authentication: 'none' as const };
  // A content that is neither text, bytes nor a stream: the composer refuses it, in the thread.
  const broken = composition('Cassé', { content: { text: 'x', html: null, attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: 42 as never }] } });
  const uncomposed = await sender.send(none, broken, async () => undefined).catch((err: unknown) => err);
  t.ok(uncomposed instanceof Error);
  t.notOk(uncomposed instanceof SendFailure);

  await sender.send(none, composition('Avant'), async () => undefined);
  await sender.close();
  const after = await sender.send(none, composition('Après'), async () => undefined);
  t.match(after.response, /^250 /);
  t.same(
    peer.messages.map((m) => m.mail.subject),
    ['Avant', 'Après'],
  );
});
