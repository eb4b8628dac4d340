import { PassThrough } from 'node:stream';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config.js';
import { buildTestApp, Client, createAccount, type Response } from './helper.js';

function statuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
  return counts;
}

async function clientAt(app: FastifyInstance, address: string): Promise<Client> {
  const client = new Client(app);
  client.remoteAddress = address;
  await client.get('/login');
  return client;
}

async function failedLoginAddresses(app: FastifyInstance): Promise<string[]> {
  const { rows } = await app.repositories.audit.list({ action: 'auth.loginFailed', perPage: 500 });
  return [...new Set(rows.map((row) => row.ip ?? ''))];
}

t.test('RELAIS_TRUST_PROXY takes false, a hop count, proxy addresses or true', async (t) => {
  t.equal(loadConfig({}).trustProxy, false);
  t.equal(loadConfig({ RELAIS_TRUST_PROXY: 'false' }).trustProxy, false);
  t.equal(loadConfig({ RELAIS_TRUST_PROXY: '1' }).trustProxy, 1);
  t.same(loadConfig({ RELAIS_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy, ['127.0.0.1', '10.0.0.0/8']);
  t.equal(loadConfig({ RELAIS_TRUST_PROXY: 'true' }).trustProxy, true);
  t.throws(() => loadConfig({ RELAIS_TRUST_PROXY: 'nginx' }), /RELAIS_TRUST_PROXY: "nginx" is not a network/);
});

// The proxy (127.0.0.1) appends the real client, 203.0.113.50, to whatever the client wrote (nginx's
// $proxy_add_x_forwarded_for): 40 guesses at once, each with a forged left-most address.
for (const trust of ['1', '127.0.0.1', '127.0.0.0/8,10.0.0.0/8']) {
  t.test(`RELAIS_TRUST_PROXY=${trust}: forged X-Forwarded-For addresses count as the client the proxy saw`, async (t) => {
    const app = await buildTestApp(t, { RELAIS_TRUST_PROXY: trust });
    const user = await createAccount(app, 'admin');
    const proxy = await clientAt(app, '127.0.0.1');
    const guesses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => proxy.post('/login', { email: user.email, password: `wrong guess ${i}` }, { 'x-forwarded-for': `10.66.0.${i}, 203.0.113.50` })),
    );
    const pairLimit = app.config.loginThrottle.pairMaxFailures;
    t.same(statuses(guesses), { 401: pairLimit, 429: 40 - pairLimit }, 'one client behind the proxy is held to the pair limit');
    t.same(await failedLoginAddresses(app), ['203.0.113.50'], 'the audit trail records the client the proxy saw');
  });
}

t.test('proxy addresses: a client that reaches Relais directly cannot choose its address', async (t) => {
  const app = await buildTestApp(t, { RELAIS_TRUST_PROXY: '127.0.0.1' });
  const user = await createAccount(app, 'admin');
  const direct = await clientAt(app, '198.51.100.7');
  await direct.post('/login', { email: user.email, password: 'wrong guess' }, { 'x-forwarded-for': '192.0.2.99' });
  t.same(await failedLoginAddresses(app), ['198.51.100.7']);
});

t.test('RELAIS_TRUST_PROXY=true still works and is warned about at start', async (t) => {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const app = await buildTestApp(t, { RELAIS_TRUST_PROXY: 'true', LOG_LEVEL: 'info' }, { logStream: stream });
  const warning = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).find((line) => line.msg.includes('RELAIS_TRUST_PROXY'));
  t.equal(warning?.level, 40, 'a warning');
  t.match(warning?.msg, 'RELAIS_TRUST_PROXY=true trusts every X-Forwarded-For address');
  const user = await createAccount(app, 'admin');
  const proxy = await clientAt(app, '127.0.0.1');
  await proxy.post('/login', { email: user.email, password: 'wrong guess' }, { 'x-forwarded-for': '10.66.0.1, 203.0.113.50' });
  t.same(await failedLoginAddresses(app), ['10.66.0.1'], 'the left-most address, as documented');
  t.notOk(lines.some((line) => line.includes('RELAIS_TRUST_PROXY') && line.includes('"level":30')));
});
