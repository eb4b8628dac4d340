// The worker when something other than an SMTP server fails after some recipients have the message, on both stores:
// an error before the outcome (those still owed wait a round), and an outcome that cannot be written (the settle's own).
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import pg from 'pg';
import t, { type Test } from 'tap';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { adminClient } from './helper.js';
import { apiOrigin, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { startSmtpPeer, type ReceivedMessage } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';

t.setTimeout(600_000);

async function accepted(app: FastifyInstance, overrides: Parameters<typeof message>[0] = {}) {
  const outcome = await app.outbox.accept(message(overrides), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
  return outcome.message;
}

type LogLine = { level: number; msg: string; err?: { message?: string } };

/** The app's log, line by line; `onLine` sees each line as it is written (pino writes to the stream at once). */
function logLines(onLine: (line: LogLine) => void = () => {}) {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        onLine(line);
      }
      done();
    },
  });
  return { lines, stream };
}

const greylisted = () => Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 });
const recipientsOf = (received: ReceivedMessage) => received.envelope.rcptTo.map((r) => r.address);
const deliveriesOf = (messages: ReceivedMessage[], messageId: string) => messages.filter((m) => m.mail.messageId === messageId).map(recipientsOf);

/** The message's round count as stored (no page or API shows it). */
async function roundCountOf(app: FastifyInstance, store: TestStore, publicId: string): Promise<number> {
  if (store.kind === 'sqlite') {
    const sqlite = (app as unknown as { database: { sqlite: Database.Database } }).database.sqlite;
    return (sqlite.prepare('SELECT round_count FROM outbox_messages WHERE public_id = ?').get(publicId) as { round_count: number }).round_count;
  }
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  try {
    return (await client.query<{ round_count: number }>('SELECT round_count FROM outbox_messages WHERE public_id = $1', [publicId])).rows[0]!.round_count;
  } finally {
    await client.end();
  }
}

await forEachStore(t, 'an unexpected error after a partial delivery: the recipient still owed waits a round, the one who has it is not sent it again', async (t, store) => {
  // grey@ is greylisted by the primary at the first two messages' attempts, then accepted.
  let greylistings = 0;
  const primary = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('grey') && greylistings++ < 2) return callback(greylisted());
      callback();
    },
  });
  const backup = await startSmtpPeer(t, { authOptional: true });
  const log = logLines();
  // The worker keeps the servers it read for a while (a second by default): a server deleted meanwhile on another
  // instance is still its row there, and counting a rate-limit slot for it fails on the database's foreign key. A
  // minute holds that window open.
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_ROUTE_CACHE_MS: '60000', RELAIS_OUTBOX_BACKOFF_SECONDS: '1' }, { logStream: log.stream });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port, rateLimitPerMinute: 100 });
  const first = await accepted(app, { to: ['ok@exemple.fr', 'grey@exemple.fr'], subject: 'n°1' });
  const firstDone = await until(app, first.id, ['sent', 'failed']);
  t.same(firstDone.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent'], [backupId, 'sent']], 'both servers read (and kept) by the worker');
  const otherInstance = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const admin = await adminClient(otherInstance);
  t.equal((await admin.post(`/smtp-servers/${backupId}/delete`, {})).statusCode, 303, 'the backup deleted by an administrator, on another instance');

  const second = await accepted(app, { to: ['ok@exemple.fr', 'grey@exemple.fr'], subject: 'n°2' });
  const waiting = await until(app, second.id, ['retry', 'sent', 'failed']);
  t.equal(waiting.status, 'retry', 'retried, rather than its lease left to expire');
  t.same(waiting.pendingRecipients, ['grey@exemple.fr'], 'for the recipient still owed only');
  t.same(waiting.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent']], 'the primary’s delivery kept; the backup never tried');
  t.match(waiting.attempts[0]!.reply, /^250 .*; refused: grey@exemple\.fr \(451 Greylisted, try again later\)$/);
  t.equal(await roundCountOf(app, store, second.id), 1, 'one round more');
  const failure = log.lines.find((line) => line.msg.includes('a message failed after some recipients had it'));
  t.match(failure?.err?.message, /foreign key/i, 'what failed: the slot of a server that is no longer there (no SMTP failure)');

  const done = await until(app, second.id, ['sent', 'failed']);
  t.equal(done.status, 'sent', 'grey@ accepted once it came due');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent'], [primaryId, 'sent']]);
  t.equal(await roundCountOf(app, store, second.id), 1, 'the round it waited, counted once');
  t.same(deliveriesOf(primary.messages, second.messageId), [['ok@exemple.fr'], ['grey@exemple.fr']], 'ok@ got it once, grey@ at the next round');
  t.same(deliveriesOf(backup.messages, second.messageId), [], 'nothing through the deleted backup');
});

/**
 * Another session holding what the outcome of the messages being sent must write, until released: SQLite's write lock
 * (a write then waits its busy timeout, 5 s), or their rows on PostgreSQL (a write waits the lock_timeout given below).
 */
async function holdTheOutcome(store: TestStore): Promise<() => Promise<void>> {
  if (store.kind === 'sqlite') {
    const other = new Database(store.file);
    other.exec('BEGIN IMMEDIATE');
    return async () => {
      other.exec('ROLLBACK');
      other.close();
    };
  }
  const other = new pg.Client({ connectionString: store.url });
  await other.connect();
  await other.query('BEGIN');
  await other.query(`SELECT id FROM outbox_messages WHERE status = 'sending' FOR UPDATE`);
  return async () => {
    await other.query('ROLLBACK');
    await other.end();
  };
}

await forEachStore(t, 'a settle that cannot be written after a partial delivery is the settle’s failure: the lease expires, the round is counted once', async (t: Test, store) => {
  let release: (() => Promise<void>) | null = null;
  let held = false;
  t.teardown(() => release?.());
  const primary = await startSmtpPeer(t, {
    authOptional: true,
    async onRcptTo(address, _session, callback) {
      if (!address.address.startsWith('grey')) return callback();
      // The first time, before the server answers: the settle that follows this delivery waits for the lock and fails.
      if (!held) {
        held = true;
        release = await holdTheOutcome(store);
      }
      callback(greylisted());
    },
  });
  // The lock is let go as soon as the worker has said what it does about the failed settle: a second settle would go through.
  const log = logLines((line) => {
    if (!release || !/could not be processed|retried later for the recipients still owed/.test(line.msg)) return;
    const letGo = release;
    release = null;
    void letGo();
  });
  // One place: nothing is claimed while the message is out (on SQLite a write waits out the busy timeout, and the whole
  // process with it, the SMTP dialogue too). PostgreSQL waits for a row lock for ever unless told otherwise (Relais
  // does not): 2 s, in the connection's options.
  const env: Record<string, string> = { RELAIS_OUTBOX_CONCURRENCY: '1', RELAIS_OUTBOX_BACKOFF_SECONDS: '30' };
  if (store.kind === 'postgres') env.RELAIS_DB = `${store.url}?options=${encodeURIComponent('-c lock_timeout=2000')}`;
  const app = await outboxApp(t, store, env, { logStream: log.stream });
  const primaryId = await sendingServerFor(app.stores, { title: 'Unique', port: primary.port });
  const sent = await accepted(app, { to: ['ok@exemple.fr', 'grey@exemple.fr'] });

  const waiting = await until(app, sent.id, ['retry', 'sent', 'failed'], 60_000);
  t.ok(held, 'the outcome’s write was held');
  t.equal(waiting.status, 'retry');
  t.same(waiting.pendingRecipients, ['grey@exemple.fr']);
  t.equal(await roundCountOf(app, store, sent.id), 1, 'one round more, not two: the failed settle was not followed by another');
  t.notOk(log.lines.some((line) => line.msg.includes('retried later for the recipients still owed')), 'not taken for a failure before the outcome');
  t.ok(log.lines.some((line) => line.msg.includes('its lease will expire')), 'the settle’s error went up: its lease expired');
  t.same(waiting.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent']], 'the attempts of the claim whose outcome was lost were never written');
  // At least once: the outcome never written, the next claim sends it to all, with the same Message-ID.
  t.same(deliveriesOf(primary.messages, sent.messageId), [['ok@exemple.fr'], ['ok@exemple.fr']], 'ok@ got it again, as after any lease that expires');
});

await forEachStore(t, 'a stored password no configured key opens: that server fails over to the next one, the app stays up', async (t, store) => {
  const primaryPeer = await startSmtpPeer(t, { authOptional: true });
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primaryPeer.port });
  await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  // Sealed with a key this instance was never given (a RELAIS_SECRET changed without the old one in RELAIS_PREVIOUS_SECRETS).
  const foreignBox = new SecretBox(keyFromSecret('une autre clé, que cette instance ne connaît pas'));
  await app.stores.servers.update(primaryId, { authentication: 'password', username: 'vente', passwordCiphertext: foreignBox.encrypt('le mot de passe') });
  const sent = await accepted(app);
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'sent', 'delivered by the backup');
  t.same(done.attempts.map((a) => a.outcome), ['failover', 'sent']);
  t.match(done.attempts[0]!.reply, /No configured key/, 'the primary’s attempt says why');
  t.equal(primaryPeer.messages.length, 0, 'nothing went to the primary, and no password');
  t.equal((await backup.message(1)).mail.messageId, sent.messageId);
  const second = await accepted(app, { subject: 'Encore' });
  t.equal((await until(app, second.id, ['sent', 'failed'])).status, 'sent', 'the worker goes on');
});

await forEachStore(t, 'a server deleted on this instance is dropped by its worker at once, whatever it kept', async (t, store) => {
  const primary = await startSmtpPeer(t, { authOptional: true });
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_ROUTE_CACHE_MS: '60000' });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const first = await accepted(app, { subject: 'n°1' });
  t.same((await until(app, first.id, ['sent', 'failed'])).attempts.map((a) => a.serverId), [primaryId], 'the primary’s route read (and kept a minute)');
  const admin = await adminClient(app);
  t.equal((await admin.post(`/smtp-servers/${primaryId}/delete`, {})).statusCode, 303, 'the primary deleted by an administrator');
  const second = await accepted(app, { subject: 'n°2' });
  const done = await until(app, second.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[backupId, 'sent']], 'the backup at once: the deleted primary not tried');
  t.equal(deliveriesOf(primary.messages, second.messageId).length, 0, 'nothing through the deleted server');
});
