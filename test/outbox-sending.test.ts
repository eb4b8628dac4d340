// The worker against real SMTP peers on 127.0.0.1, on both stores: failover by reply class, retries, « en panne », the rate limit.
import net from 'node:net';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { closedPort, startSmtpPeer } from './smtp-peer.js';
import { apiOrigin, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { forEachStore } from './stores.js';
import { adminClient, text } from './helper.js';
import { apiRequest, tokenFor } from './api-support.js';

async function accepted(app: FastifyInstance, overrides: Parameters<typeof message>[0] = {}) {
  const outcome = await app.outbox.accept(message(overrides), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
  return outcome.message;
}

/** A peer that refuses every recipient with this reply. */
function refusingPeer(t: Test, code: number, text: string) {
  return startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error(text), { responseCode: code }));
    },
  });
}

t.setTimeout(600_000);

await forEachStore(t, 'primary down: the backup delivers at once, with its sender and the Message-ID fixed at acceptance', async (t, store) => {
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: await closedPort() });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const sent = await accepted(app, { html: '<p>Bonjour</p>', attachments: [{ filename: 'devis.pdf', contentType: 'application/pdf', content: Buffer.from('PDF') }] });
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'failover'], [backupId, 'sent']]);
  t.match(done.attempts[0]!.reply, /ECONNECTION|ESOCKET|ECONNREFUSED/, 'the connection error, in one line');
  t.match(done.attempts[1]!.reply, /^250/);
  t.equal(done.serverId, backupId, 'the server that delivered it');
  const received = await backup.message(1);
  t.equal(received.mail.messageId, sent.messageId);
  t.same(received.mail.from?.value, [{ address: 'secours@exemple.fr', name: 'Service Secours' }]);
  t.same(received.envelope.rcptTo.map((r) => r.address), ['client@exemple.fr']);
  t.equal(received.mail.attachments[0]?.filename, 'devis.pdf');
  t.equal(received.mail.attachments[0]?.content.toString(), 'PDF');
  const primary = await app.stores.servers.find(primaryId);
  t.equal(primary?.consecutiveFailures, 1);
  t.ok(primary?.lastErrorAt, 'its last error kept on its row');
  t.match(primary?.lastError, /ECONN|ESOCKET/);
  t.ok((await app.stores.servers.find(backupId))?.lastSuccessAt, 'the backup’s last success kept');
});

await forEachStore(t, 'the primary answers 451: the backup delivers', async (t, store) => {
  const primary = await refusingPeer(t, 451, 'Try again later');
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const done = await until(app, (await accepted(app)).id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => a.outcome), ['failover', 'sent']);
  t.match(done.attempts[0]!.reply, /^451/);
  t.equal(backup.messages.length, 1);
});

await forEachStore(t, '550 for the recipient: failed with that reply, the backup untouched', async (t, store) => {
  const primary = await refusingPeer(t, 550, 'No such user here');
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const done = await until(app, (await accepted(app)).id, ['sent', 'failed']);
  t.equal(done.status, 'failed');
  t.match(done.lastReply, /^550 No such user here/);
  t.same(done.attempts.map((a) => a.outcome), ['failed']);
  t.equal(backup.connections, 0, 'the backup was never contacted');
});

await forEachStore(t, 'both down: retried later, delivered when one comes back', async (t, store) => {
  const primaryPort = await closedPort();
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_BACKOFF_SECONDS: '0.3' });
  await sendingServerFor(app.stores, { title: 'Primaire', port: primaryPort });
  await sendingServerFor(app.stores, { title: 'Secours', port: await closedPort() });
  const sent = await accepted(app);
  const waiting = await until(app, sent.id, ['retry']);
  t.same(waiting.attempts.map((a) => a.outcome), ['failover', 'failover'], 'every server tried once');
  t.ok(waiting.nextAttemptAt, 'a new attempt planned');
  const back = await startSmtpPeer(t, { authOptional: true, listenPort: primaryPort });
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.equal((await back.message(1)).mail.messageId, sent.messageId);
  t.equal(done.attempts.at(-1)?.outcome, 'sent');
});

/** A peer that answers 550 for the addresses with "reject" in them and 451 for those with "grey" (while `refusing()`), 250 for the others. */
function pickyPeer(t: Test, refusing: () => boolean = () => true) {
  return startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(address, _session, callback) {
      if (refusing() && address.address.includes('reject')) return callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      if (refusing() && address.address.includes('grey')) return callback(Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 }));
      callback();
    },
  });
}

const recipientsOf = (received: { envelope: { rcptTo: { address: string }[] } }) => received.envelope.rcptTo.map((r) => r.address);

await forEachStore(t, 'one recipient refused 550, the other accepted: failed for that one only; an admin retry sends it to that one only', async (t, store) => {
  let refusing = true;
  const peer = await pickyPeer(t, () => refusing);
  const app = await outboxApp(t, store);
  const serverId = await sendingServerFor(app.stores, { title: 'Unique', port: peer.port });
  const sent = await accepted(app, { to: ['ok@exemple.fr', 'reject@exemple.fr'] });
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'failed', 'not sent: a recipient never got it');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[serverId, 'sent']], 'one attempt, which delivered');
  t.match(done.attempts[0]!.reply, /^250 .*; refused: reject@exemple\.fr \(550 No such user here\)$/, 'its reply names the refused recipient');
  t.equal(done.lastReply, 'refused: reject@exemple.fr (550 No such user here); delivered to the other recipients');
  t.same(done.pendingRecipients, ['reject@exemple.fr']);
  const first = await peer.message(1);
  t.same(recipientsOf(first), ['ok@exemple.fr'], 'the accepted one received it');
  t.same(first.mail.to && !Array.isArray(first.mail.to) ? first.mail.to.value.map((a) => a.address) : null, ['ok@exemple.fr', 'reject@exemple.fr'], 'To names both');
  // The page says Relais's part in the reader's words, the server's as it came.
  const page = text((await (await adminClient(app)).get(`/messages/${sent.id}`)).body);
  t.match(page, 'refusé : reject@exemple.fr (550 No such user here); remis aux autres destinataires');
  t.match(page, /250 .*; refusé : reject@exemple\.fr \(550 No such user here\)/);
  t.match(page, /Destinataires refusés \(seuls servis par un nouvel essai\)\s*reject@exemple\.fr/);
  const token = await tokenFor(app);
  const detail = JSON.parse((await apiRequest(app, token, 'GET', `/api/v1/messages/${sent.id}`)).body);
  t.same([detail.status, detail.pendingRecipients], ['failed', ['reject@exemple.fr']], 'the API says who a retry would send it to');

  refusing = false;
  const { createAccount } = await import('./helper.js');
  const account = await createAccount(app, 'admin', { displayName: 'Admin' });
  t.equal(await app.outbox.retry(sent.id, { userId: account.id, name: 'Admin' }), true);
  const again = await until(app, sent.id, ['sent', 'failed']);
  t.equal(again.status, 'sent');
  t.equal(again.pendingRecipients, null);
  t.same(again.attempts.map((a) => a.outcome), ['sent', 'sent']);
  t.match(again.attempts[1]!.reply, /^250 [^;]*$/, 'nobody refused this time');
  const second = await peer.message(2);
  t.same(recipientsOf(second), ['reject@exemple.fr'], 'the retry went to the refused recipient only');
  t.equal(second.mail.messageId, sent.messageId, 'the same Message-ID');
  t.equal(peer.messages.length, 2, 'ok@ was not sent it twice');
});

await forEachStore(t, 'one recipient refused 451 by the primary: the backup sends it to that one only, at once; sent', async (t, store) => {
  const primary = await pickyPeer(t);
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const sent = await accepted(app, { to: ['ok@exemple.fr'], cc: ['grey@exemple.fr'], bcc: ['cache@exemple.fr'] });
  const done = await until(app, sent.id, ['sent', 'failed', 'retry']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent'], [backupId, 'sent']], 'two attempts, in the same round');
  t.match(done.attempts[0]!.reply, /^250 .*; refused: grey@exemple\.fr \(451 Greylisted, try again later\)$/);
  t.match(done.attempts[1]!.reply, /^250 [^;]*$/);
  t.equal(done.attemptCount, 2);
  t.equal(done.serverId, backupId);
  t.equal(done.pendingRecipients, null);
  t.same(recipientsOf(await primary.message(1)), ['ok@exemple.fr', 'cache@exemple.fr'], 'the primary took the others');
  const atBackup = await backup.message(1);
  t.same(recipientsOf(atBackup), ['grey@exemple.fr'], 'the backup got the refused one only');
  t.equal(atBackup.mail.messageId, sent.messageId);
  t.notOk(atBackup.mail.bcc, 'no Bcc header');
  t.equal(atBackup.mail.headers.get('bcc'), undefined);
  t.same([primary.messages.length, backup.messages.length], [1, 1]);
  t.equal((await app.stores.servers.find(primaryId))?.consecutiveFailures, 0, 'a server that took the others is not counted as failing');
});

await forEachStore(t, 'one recipient refused 451 by every server: retry for that one; when it comes due and is accepted, only it gets it', async (t, store) => {
  let refusing = true;
  const primary = await pickyPeer(t, () => refusing);
  const backup = await pickyPeer(t);
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_BACKOFF_SECONDS: '1' });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const sent = await accepted(app, { to: ['ok@exemple.fr', 'grey@exemple.fr'] });
  const waiting = await until(app, sent.id, ['retry', 'sent', 'failed']);
  t.equal(waiting.status, 'retry');
  t.same(waiting.pendingRecipients, ['grey@exemple.fr']);
  t.same(waiting.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent'], [backupId, 'failover']]);
  t.match(waiting.attempts[1]!.reply, /^451 /);
  t.ok(waiting.nextAttemptAt, 'a new round planned');
  t.same(recipientsOf(await primary.message(1)), ['ok@exemple.fr']);
  t.equal(backup.messages.length, 0);

  refusing = false;
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.equal(done.pendingRecipients, null);
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'sent'], [backupId, 'failover'], [primaryId, 'sent']]);
  const second = await primary.message(2);
  t.same(recipientsOf(second), ['grey@exemple.fr'], 'only the one still owed');
  t.equal(second.mail.messageId, sent.messageId);
  t.equal(primary.messages.length, 2, 'ok@ got it once');
});

await forEachStore(t, 'one recipient refused 550 and another 451 by the only server: retried for the second; failed for the first once the second has it', async (t, store) => {
  let greylisting = true;
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(address, _session, callback) {
      if (address.address.includes('reject')) return callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      if (greylisting && address.address.includes('grey')) return callback(Object.assign(new Error('Greylisted'), { responseCode: 451 }));
      callback();
    },
  });
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_BACKOFF_SECONDS: '1' });
  await sendingServerFor(app.stores, { title: 'Unique', port: peer.port });
  const sent = await accepted(app, { to: ['ok@exemple.fr', 'reject@exemple.fr', 'grey@exemple.fr'] });
  const waiting = await until(app, sent.id, ['retry', 'sent', 'failed']);
  t.equal(waiting.status, 'retry', 'still owed to grey@');
  t.same(waiting.pendingRecipients, ['grey@exemple.fr'], 'reject@ is not asked again');
  t.match(waiting.attempts[0]!.reply, /; refused: reject@exemple\.fr \(550 No such user here\), grey@exemple\.fr \(451 Greylisted\)$/);
  greylisting = false;
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'failed', 'reject@ never got it, though the others did');
  t.same(done.pendingRecipients, ['reject@exemple.fr']);
  t.equal(done.lastReply, 'refused: reject@exemple.fr (550 No such user here); delivered to the other recipients');
  t.same(done.attempts.map((a) => a.outcome), ['sent', 'sent']);
  t.same([recipientsOf(await peer.message(1)), recipientsOf(await peer.message(2))], [['ok@exemple.fr'], ['grey@exemple.fr']]);
});

/**
 * A server that takes the whole message and then never answers the final dot the first time (the message may well
 * have arrived), and answers 250 the next times. Records each message's Message-ID.
 */
async function silentAfterData(t: Test) {
  const received: string[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write('220 late.test ESMTP\r\n');
    let buffer = '';
    let inData = false;
    let body = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let index: number;
      while ((index = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, index).replace(/\r$/, '');
        buffer = buffer.slice(index + 1);
        if (inData) {
          if (line !== '.') {
            body += `${line}\n`;
            continue;
          }
          inData = false;
          received.push(/^Message-ID: (.*)$/im.exec(body)?.[1] ?? '');
          body = '';
          if (received.length > 1) socket.write('250 2.0.0 queued\r\n');
          continue;
        }
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === 'EHLO') socket.write('250-late.test\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, received, connections: () => connections };
}

await forEachStore(t, 'a time-out after DATA: retried later on the same server with the same Message-ID, never on the backup', async (t, store) => {
  const primary = await silentAfterData(t);
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store, { RELAIS_SMTP_SEND_TIMEOUT_MS: '800', RELAIS_OUTBOX_BACKOFF_SECONDS: '0.3' });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const sent = await accepted(app);
  const done = await until(app, sent.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[primaryId, 'deferred'], [primaryId, 'sent']]);
  t.same(primary.received, [sent.messageId, sent.messageId], 'twice, with the same Message-ID: a duplicate can be recognised');
  t.equal(backup.connections, 0, 'the backup was never tried');
});

await forEachStore(t, '« en panne »: after N failures in a row the server is skipped for its cool-down; the first success clears it', async (t, store) => {
  let refusing = true;
  const primary = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(_address, _session, callback) {
      callback(refusing ? Object.assign(new Error('Busy'), { responseCode: 421 }) : null);
    },
  });
  const backup = await startSmtpPeer(t, { authOptional: true });
  // A cool-down long enough that the third message, under load, still comes while it lasts.
  const app = await outboxApp(t, store, { RELAIS_SERVER_DOWN_AFTER_FAILURES: '2', RELAIS_SERVER_DOWN_SECONDS: '5' });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  for (let i = 1; i <= 2; i++) t.same((await until(app, (await accepted(app)).id, ['sent'])).attempts.map((a) => a.outcome), ['failover', 'sent'], `message ${i}: primary tried`);
  const down = await app.stores.servers.find(primaryId);
  t.equal(down?.consecutiveFailures, 2);
  t.ok(down?.downUntil && down.downUntil.getTime() > Date.now(), '« en panne » for the cool-down');
  const third = await until(app, (await accepted(app)).id, ['sent']);
  t.same(third.attempts.map((a) => a.serverTitle), ['Secours'], 'skipped while it lasts');

  refusing = false;
  await new Promise((resolve) => setTimeout(resolve, down!.downUntil!.getTime() - Date.now() + 50));
  const fourth = await until(app, (await accepted(app)).id, ['sent']);
  t.same(fourth.attempts.map((a) => [a.serverTitle, a.outcome]), [['Primaire', 'sent']], 'tried again once the cool-down is over');
  // The server's row is written after the message's (its own statement): give it a moment under load.
  let cleared = await app.stores.servers.find(primaryId);
  for (let waited = 0; waited < 3_000 && cleared?.consecutiveFailures !== 0; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    cleared = await app.stores.servers.find(primaryId);
  }
  t.same([cleared?.consecutiveFailures, cleared?.downUntil], [0, null], 'the first success clears it');
});

await forEachStore(t, 'the rate limit holds across two instances: the third message of the minute waits, not an attempt', async (t, store) => {
  // Far enough from the end of the minute that the three sends and the check share one.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100));
  const peer = await startSmtpPeer(t, { authOptional: true });
  const first = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const limitedId = await sendingServerFor(first.stores, { title: 'Limité', port: peer.port, rateLimitPerMinute: 2 });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await accepted(first, { subject: `n°${i}` })).id);
  const a = await outboxApp(t, store);
  const b = await outboxApp(t, store);
  const waitingUntil = async () => {
    for (;;) {
      const rows = await Promise.all(ids.map((id) => a.outbox.find(id)));
      const sent = rows.filter((r) => r?.status === 'sent').length;
      const waiting = rows.filter((r) => r?.status === 'queued' && r.nextAttemptAt && r.nextAttemptAt.getTime() % 60_000 === 0).length;
      if (sent + waiting === ids.length) return rows;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const rows = await waitingUntil();
  t.equal(rows.filter((r) => r?.status === 'sent').length, 2, 'two this minute, between both instances');
  t.equal(peer.messages.length, 2);
  for (const row of rows.filter((r) => r?.status === 'queued')) {
    t.same(row!.attempts, [], 'waiting for a slot is not an attempt');
    t.ok(row!.nextAttemptAt!.getTime() > Date.now(), 'due at the next minute');
  }
  t.ok(b.outbox && limitedId);
});

await forEachStore(t, 'with room, the worker takes a message as it is stored (leased in its insert, no claim); without room, later ones wait their turn', async (t, store) => {
  // Each recipient answered after a moment: the one place stays busy while a message is sent.
  const peer = await startSmtpPeer(t, { authOptional: true, onRcptTo: (_address, _session, callback) => void setTimeout(callback, 300) });
  // No poll: after its first look the worker claims only when told a message waits, or when a place frees up behind one.
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_CONCURRENCY: '1', RELAIS_OUTBOX_POLL_MS: '60000' });
  await sendingServerFor(app.stores, { title: 'Principal', port: peer.port });
  // The worker's first look, at start, may still be out: until it is back, a message waits to be claimed.
  let first = await accepted(app, { subject: 'n°0' });
  for (let tries = 0; first.status !== 'sending' && tries < 20; tries++) {
    await until(app, first.id, ['sent']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    first = await accepted(app, { subject: `n°0 (${tries + 1})` });
  }
  t.equal(first.status, 'sending', 'the 202 says it is on its way: stored leased to this worker');
  t.equal((await app.outbox.find(first.id))?.status, 'sending', 'and so says its row, before any attempt ended');
  const later = [await accepted(app, { subject: 'n°1' }), await accepted(app, { subject: 'n°2' })];
  t.same(later.map((m) => m.status), ['queued', 'queued'], 'no room: stored waiting, for a claim');
  for (const m of [first, ...later]) t.equal((await until(app, m.id, ['sent', 'failed'])).status, 'sent');
  const subjects = peer.messages.map((m) => m.mail.subject);
  t.same(subjects.slice(-3), [first.subject, 'n°1', 'n°2'], 'in the order they were accepted');
  t.equal(new Set(peer.messages.map((m) => m.mail.messageId)).size, peer.messages.length, 'each delivered once');
  const row = await app.outbox.find(first.id);
  t.same(row?.attempts.map((a) => a.outcome), ['sent'], 'its attempt logged as any other');
});

await forEachStore(t, 'shutdown with a message taken as it was stored and still in flight: its lease is given back', async (t, store) => {
  // A peer that never answers the recipient: the message stays in flight until the shutdown.
  const peer = await startSmtpPeer(t, { authOptional: true, onRcptTo: () => undefined });
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_POLL_MS: '60000', RELAIS_SHUTDOWN_GRACE_MS: '500' });
  await sendingServerFor(app.stores, { title: 'Muet', port: peer.port });
  let taken = await accepted(app);
  for (let tries = 0; taken.status !== 'sending' && tries < 20; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    taken = await accepted(app, { subject: `essai ${tries + 1}` });
  }
  t.equal(taken.status, 'sending');
  for (let waited = 0; peer.connections === 0 && waited < 5_000; waited += 25) await new Promise((resolve) => setTimeout(resolve, 25));
  await app.close();
  const after = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const row = await after.outbox.find(taken.id);
  t.equal(row?.status, 'queued', 'due again, for this instance or another');
  t.same(row?.attempts, [], 'no attempt ended');
});

t.test('the server form takes a rate limit: saved, shown again, refused next to its field when wrong', async (t) => {
  const { adminClient, buildTestApp, text } = await import('./helper.js');
  const { formFor } = await import('./smtp-peer.js');
  const peer = await startSmtpPeer(t, { authOptional: true });
  const app = await buildTestApp(t, { RELAIS_OUTBOX_WORKER: 'false' });
  const admin = await adminClient(app);
  const wrong = await admin.post('/smtp-servers', formFor(peer, { rateLimitPerMinute: 'beaucoup' }));
  t.equal(wrong.statusCode, 422);
  t.match(wrong.body, /id="rateLimitPerMinute"[^>]*aria-invalid="true"/);
  t.match(text(wrong.body), 'La limite est un nombre entier de messages par minute');
  const saved = await admin.post('/smtp-servers', formFor(peer, { rateLimitPerMinute: '30' }));
  t.equal(saved.statusCode, 303);
  const [row] = (await app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  t.equal((await app.stores.outbox.sendingServer(row!.id))?.rateLimitPerMinute, 30);
  t.match((await admin.get(`/smtp-servers/${row!.id}/edit`)).body, /id="rateLimitPerMinute"[^>]*value="30"/);
});

await forEachStore(t, 'a round with no usable server: the reason said in the reader’s words, the server tried before still the log’s', async (t, store) => {
  const primary = await refusingPeer(t, 421, 'Busy');
  const app = await outboxApp(t, store, { RELAIS_SERVER_DOWN_AFTER_FAILURES: '1', RELAIS_SERVER_DOWN_SECONDS: '60' });
  const primaryId = await sendingServerFor(app.stores, { title: 'Primaire', port: primary.port });
  const { id } = await accepted(app);
  let waiting = await until(app, id, ['retry']);
  for (const deadline = Date.now() + 10_000; waiting.lastReply !== 'no usable server' && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    waiting = (await app.outbox.find(id))!;
  }
  t.equal(waiting.lastReply, 'no usable server', 'the API says why, in its words');
  t.same(waiting.attempts.map((a) => [a.serverTitle, a.outcome]), [['Primaire', 'failover']], 'the server en panne is not asked again');
  t.same([waiting.serverId, waiting.serverTitle], [primaryId, 'Primaire'], 'the last server tried stays the log’s');
  const admin = await adminClient(app);
  const page = text((await admin.get(`/messages/${id}`)).body);
  t.match(page, 'Aucun serveur utilisable (tous en panne, désactivés ou non confirmés)');
  t.notMatch(page, 'no usable server');
  t.match(page, /Primaire\s+.*421 Busy/);
  const log = text((await admin.get('/messages')).body);
  t.match(log, /Primaire.*Aucun serveur utilisable/s);
});
