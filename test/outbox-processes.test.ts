// The outbox across real app processes (src/server.ts as children): a kill -9 loses nothing; two instances share the work.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import t, { type Test } from 'tap';
import { testSecret, testSmtpEnv } from './helper.js';
import { apiOrigin, message, outboxApp, sendingServerFor } from './outbox-helpers.js';
import { forEachStore, onPostgres } from './stores.js';

t.setTimeout(600_000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** An SMTP sink that counts every message by its Message-ID, taking `delayMs` to answer each (so some are in flight). */
async function sink(t: Test, delayMs: number) {
  const received = new Map<string, number>();
  let total = 0;
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 4096) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const id = /^Message-ID:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '';
        setTimeout(() => {
          received.set(id, (received.get(id) ?? 0) + 1);
          total++;
          callback();
        }, delayMs);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as net.AddressInfo).port, received, total: () => total };
}

/** `node --import tsx src/server.ts` on this database, resolved once it says it is ready. */
function startRelais(t: Test, db: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'test', PORT: '0', RELAIS_DB: db, RELAIS_SECRET: testSecret, RELAIS_PASSWORD_HASH_COST: '10', LOG_LEVEL: 'info', ...testSmtpEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Relais is ready')) resolve(child);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`Relais exited with ${code}: ${out.slice(-2000)}`)));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await forEachStore(t, 'kill -9 with messages queued and in flight: after a restart every accepted message is delivered, none lost', async (t, store) => {
  const peer = await sink(t, 150);
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  await sendingServerFor(app.stores, { title: 'Vente', port: peer.port });
  const ids = new Map<string, string>();
  for (let i = 0; i < 40; i++) {
    const outcome = await app.outbox.accept(message({ subject: `Commande ${i}` }), { origin: apiOrigin });
    if (outcome.kind === 'accepted') ids.set(outcome.message.id, outcome.message.messageId);
  }
  const env = { RELAIS_OUTBOX_CONCURRENCY: '4', RELAIS_OUTBOX_LEASE_SECONDS: '2', RELAIS_OUTBOX_POLL_MS: '100', RELAIS_SMTP_POOL_CONNECTIONS: '4' };
  const first = await startRelais(t, store.relaisDb, env);
  // Right after a delivery the worker may be between a settle and its next claim, with nothing in flight: the kill
  // waits for messages held again (each answer takes the sink 150 ms).
  let inFlight = 0;
  await waitFor('a few deliveries, and messages in flight', async () => peer.total() >= 6 && (inFlight = (await app.outbox.list({ status: 'sending' })).total) > 0);
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  t.ok(inFlight > 0, `messages were in flight at the kill (${inFlight})`);
  t.ok((await app.outbox.list({ status: 'queued' })).total > 0, 'and others still queued');

  await startRelais(t, store.relaisDb, env);
  await waitFor('every message sent', async () => (await app.outbox.list({ status: 'sent' })).total === ids.size);
  const delivered = [...ids.values()].filter((messageId) => peer.received.has(messageId));
  t.equal(delivered.length, ids.size, 'every accepted message arrived');
  t.same([...peer.received.keys()].filter((id) => ![...ids.values()].includes(id)), [], 'nothing else arrived: a duplicate carries the same Message-ID');
});

await onPostgres(t, 'on PostgreSQL two app processes drain 2,000 messages, each delivered once', async (t, url) => {
  const peer = await sink(t, 0);
  const app = await outboxApp(t, { kind: 'postgres', url, relaisDb: url }, { RELAIS_OUTBOX_WORKER: 'false' });
  await sendingServerFor(app.stores, { title: 'Vente', port: peer.port });
  const messageIds = new Set<string>();
  const batch = 50;
  for (let i = 0; i < 2000; i += batch) {
    const outcomes = await Promise.all(Array.from({ length: batch }, (_, j) => app.outbox.accept(message({ subject: `Facture ${i + j}` }), { origin: apiOrigin })));
    for (const outcome of outcomes) if (outcome.kind === 'accepted') messageIds.add(outcome.message.messageId);
  }
  t.equal(messageIds.size, 2000);
  await Promise.all([startRelais(t, url), startRelais(t, url)]);
  await waitFor('2,000 sent', async () => (await app.outbox.list({ status: 'sent' })).total === 2000, 300_000);
  t.equal(peer.total(), 2000, '2,000 messages received');
  t.equal(peer.received.size, 2000, '2,000 distinct Message-IDs: none twice');
  t.ok([...messageIds].every((id) => peer.received.get(id) === 1), 'each accepted message exactly once');
  const senders = await app.outbox.list({ perPage: 1 });
  t.equal(senders.total, 2000);
});
