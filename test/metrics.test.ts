import t, { type Test } from 'tap';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import type { FastifyInstance } from 'fastify';
import { apiOrigin, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';

t.setTimeout(300_000);

const token = 'metrics-token-0123456789abcdef';

function scrape(app: FastifyInstance, authorization?: string) {
  return app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const found = family?.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) ?? [];
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0] === undefined ? undefined : Number(found[0].value);
}

async function accept(app: FastifyInstance, department = 'vente') {
  const outcome = await app.outbox.accept(message({ department }), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(outcome.kind);
  return outcome.message;
}

t.test('without RELAIS_METRICS_TOKEN the route does not exist', async (t) => {
  const { buildTestApp } = await import('./helper.js');
  const app = await buildTestApp(t);
  t.equal((await scrape(app)).statusCode, 404);
  t.equal((await scrape(app, `Bearer ${token}`)).statusCode, 404);
});

await forEachStore(t, '/metrics: refused without its token, and its numbers are what the stores hold', async (t: Test, store: TestStore) => {
  const peer = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store, { RELAIS_METRICS_TOKEN: token });
  for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, `Bearer ${token}x`, token]) {
    const res = await scrape(app, authorization);
    t.equal(res.statusCode, 401, `refused: ${authorization ?? 'no header'}`);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="relais-metrics"');
    t.notMatch(res.body, 'relais_');
  }

  const title = 'Vente "principale" \\ Lyon';
  const serverId = await sendingServerFor(app.stores, { title, port: peer.port, departments: ['vente'] });
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push(await until(app, (await accept(app)).id, ['sent']));
  // Production has no server: its messages wait.
  await accept(app, 'production');
  await accept(app, 'production');
  await app.stores.servers.update(serverId, { lastTestAt: new Date('2026-11-30T08:00:00Z'), lastTestOk: false });
  await app.stores.outbox.serverFailed(serverId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));

  const res = await scrape(app, `Bearer ${token}`);
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], 'text/plain; version=0.0.4');
  const families = parsePrometheusTextFormat(res.body);
  for (const name of ['relais_messages', 'relais_attempts_total', 'relais_queue_depth', 'relais_queue_oldest_age_seconds', 'relais_server_last_check_success', 'relais_server_down', 'relais_servers_down']) {
    t.ok(res.body.includes(`# HELP ${name} `) && res.body.includes(`# TYPE ${name} `), `${name} has HELP and TYPE`);
  }

  const sentLog = await app.outbox.list({ status: 'sent', department: 'vente' });
  t.equal(sentLog.total, 3);
  t.equal(sample(families, 'relais_messages', { status: 'sent', department: 'vente' }), sentLog.total, 'sent messages: as the send log counts them');
  const waiting = (await app.outbox.list({ department: 'production' })).rows;
  t.equal(waiting.length, 2);
  // Queued, sending or retry as the worker looks at them: their sum is what holds still.
  const production = families.find((f) => f.name === 'relais_messages')!.metrics.filter((m) => m.labels?.department === 'production');
  t.equal(production.reduce((sum, m) => sum + Number(m.value), 0), 2, 'the production messages, whatever their waiting status');
  t.ok(production.every((m) => ['queued', 'sending', 'retry'].includes(m.labels!.status!)));
  t.equal(sample(families, 'relais_queue_depth'), 2, 'the two waiting messages');
  const age = sample(families, 'relais_queue_oldest_age_seconds')!;
  t.ok(age >= 0 && age < 120, `the oldest waits for ${age} s`);

  const attempts = sent.flatMap((m) => m.attempts).filter((a) => a.serverId === serverId && a.outcome === 'sent').length;
  t.equal(attempts, 3);
  t.equal(sample(families, 'relais_attempts_total', { server_id: String(serverId), outcome: 'sent' }), attempts, 'attempts by server and outcome');
  t.equal(families.find((f) => f.name === 'relais_attempts_total')!.metrics.find((m) => m.labels?.server_id === String(serverId))!.labels!.server, title, 'a label with quotes and a backslash, escaped and read back');
  t.equal(sample(families, 'relais_server_last_check_success', { server_id: String(serverId) }), 0, 'its last test failed');
  t.equal(sample(families, 'relais_server_last_check_timestamp_seconds', { server_id: String(serverId) }), Date.parse('2026-11-30T08:00:00Z') / 1000);
  t.equal(sample(families, 'relais_server_down', { server_id: String(serverId) }), 1, '« en panne »');
  t.equal(sample(families, 'relais_servers_down'), 1);

  await app.stores.outbox.serverSucceeded(serverId, new Date());
  const after = parsePrometheusTextFormat((await scrape(app, `Bearer ${token}`)).body);
  t.equal(sample(after, 'relais_server_down', { server_id: String(serverId) }), 0, 'back in service');
  t.equal(sample(after, 'relais_servers_down'), 0);
});
