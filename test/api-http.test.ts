import t from 'tap';
import { buildTestApp } from './helper.js';
import { tokenFor, validMessage } from './api-support.js';

// The API over a real HTTP listen with node's fetch, as the ERP calls it: headers, compression and JSON as on the wire.
t.test('POST then GET over HTTP, and a problem as the client reads it', async (t) => {
  const app = await buildTestApp(t, { RELAIS_OUTBOX_WORKER: 'false' });
  const token = await tokenFor(app, { departments: ['vente'] });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const posted = await fetch(`${address}/api/v1/messages`, { method: 'POST', headers: { ...headers, 'idempotency-key': 'http-1' }, body: JSON.stringify(validMessage) });
  t.equal(posted.status, 202);
  const { id, status } = (await posted.json()) as { id: string; status: string };
  t.equal(status, 'queued');
  t.equal(posted.headers.get('location'), `/api/v1/messages/${id}`);

  const replay = await fetch(`${address}/api/v1/messages`, { method: 'POST', headers: { ...headers, 'idempotency-key': 'http-1' }, body: JSON.stringify(validMessage) });
  t.equal(((await replay.json()) as { id: string }).id, id, 'the retried call gets the first answer');

  const got = await fetch(new URL(posted.headers.get('location')!, address), { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' } });
  t.equal(got.status, 200);
  t.equal(got.headers.get('cache-control'), 'no-store');
  t.match(await got.json(), { id, department: 'vente', status: 'queued', attempts: [] });

  const refused = await fetch(`${address}/api/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(validMessage) });
  t.equal(refused.status, 401);
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="relais"');
  t.match(refused.headers.get('content-type'), /^application\/problem\+json/);
  t.match(await refused.json(), { status: 401, title: 'A valid API token is required' });

  const invalid = await fetch(`${address}/api/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ ...validMessage, subject: ['a', 'b'] }) });
  t.equal(invalid.status, 400);
  t.match(await invalid.json(), { field: 'subject', reason: 'must be a string' });
});

t.test('POST over HTTP with the worker on: a real SMTP peer receives it, and GET tells the attempt and the server that delivered it', async (t) => {
  const { startSmtpPeer } = await import('./smtp-peer.js');
  const { sendingServerFor, fastOutboxEnv } = await import('./outbox-helpers.js');
  const sink = await startSmtpPeer(t, { authOptional: true });
  const app = await buildTestApp(t, fastOutboxEnv);
  const serverId = await sendingServerFor(app.stores, { title: 'Ventes', port: sink.port });
  const token = await tokenFor(app, { departments: ['vente'] });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const posted = await fetch(`${address}/api/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(validMessage),
  });
  t.equal(posted.status, 202);
  const { id } = (await posted.json()) as { id: string };
  const received = await sink.message(1, 15_000);
  t.equal(received.mail.subject, validMessage.subject);
  let detail: { status: string; server: { id: number; title: string } | null; messageId: string; attempts: { server: { id: number }; outcome: string; reply: string; durationMs: number }[] } | undefined;
  for (let i = 0; i < 200; i++) {
    detail = (await (await fetch(`${address}/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as typeof detail;
    if (detail!.status === 'sent') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.equal(detail!.status, 'sent');
  t.same(detail!.server, { id: serverId, title: 'Ventes' }, 'the server that delivered it');
  t.equal(detail!.attempts.length, 1);
  t.match(detail!.attempts[0], { server: { id: serverId }, outcome: 'sent', reply: /^250/ });
  t.equal(received.mail.messageId, detail!.messageId, 'the Message-ID fixed at acceptance');
});
