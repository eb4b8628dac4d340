import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { createHashQueue } from '../src/auth/password.js';
import { createRefusalLog } from '../src/auth/refusals.js';
import { accountKey, addressKey } from '../src/auth/throttle.js';
import { buildTestApp, Client, createAccount, testPassword, type Response } from './helper.js';

async function clientAt(app: FastifyInstance, address: string): Promise<Client> {
  const client = new Client(app);
  client.remoteAddress = address;
  await client.get('/login');
  return client;
}

function statuses(responses: { statusCode: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
  return counts;
}

async function audited(app: FastifyInstance, action: string) {
  return (await app.repositories.audit.list({ action, perPage: 500 })).rows;
}

t.test('the address key: IPv4 as is, IPv4-mapped IPv6 as its IPv4, IPv6 by its /64', async (t) => {
  t.equal(addressKey('203.0.113.7'), '203.0.113.7');
  t.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
  t.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  t.equal(addressKey('::1'), '0:0:0:0::/64');
  t.equal(accountKey('  Ada@Exemple.FR '), 'ada@exemple.fr');
});

t.test('60 sequential wrong passwords from 60 addresses of one IPv6 /64: 5 checked, the rest wait', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const guesses: Response[] = [];
  for (let i = 1; i <= 60; i++) {
    const attacker = await clientAt(app, `2001:db8:1:2::${i.toString(16)}`);
    guesses.push(await attacker.post('/login', { email: user.email, password: `wrong guess ${i}` }));
  }
  t.same(statuses(guesses), { 401: 5, 429: 55 });
  const throttled = await audited(app, 'auth.loginThrottled');
  t.equal(throttled.length, 1, 'one audit entry for the /64 and the account');
});

t.test('many fresh /64s: past 3 failing addresses every new one waits, but the owner from where they signed in before does not', async (t) => {
  // The account delay from the first failure on (then 4 s after 3 failures), so a slow machine sees the same counts.
  const app = await buildTestApp(t, { RELAIS_LOGIN_ACCOUNT_FREE_FAILURES: '1' });
  const user = await createAccount(app, 'admin');
  const owner = await clientAt(app, '2001:db8:ffff:1::10');
  t.equal((await owner.post('/login', { email: user.email, password: testPassword })).statusCode, 303);
  const seen: number[] = [];
  for (let i = 1; i <= 30; i++) {
    const attacker = await clientAt(app, `2001:db8:${i.toString(16)}::1`);
    seen.push((await attacker.post('/login', { email: user.email, password: `wrong guess ${i}` })).statusCode);
  }
  t.ok(seen.filter((s) => s === 401).length <= 4, `3 fresh addresses checked, then the delay: ${JSON.stringify(statuses(seen.map((statusCode) => ({ statusCode }))))}`);
  const newcomer = await clientAt(app, '2001:db8:eeee::1');
  t.equal((await newcomer.post('/login', { email: user.email, password: testPassword })).statusCode, 429, 'a newcomer waits the account delay');
  const back = await clientAt(app, '2001:db8:ffff:1::99');
  t.equal((await back.post('/login', { email: user.email, password: testPassword })).statusCode, 303, 'the owner signs in at once');
});

t.test('an audit flood: 500 throttled sign-ins from one address write one audit entry', async (t) => {
  const app = await buildTestApp(t, { RELAIS_LOGIN_ADDRESS_MAX_FAILURES: '5' });
  await createAccount(app, 'admin');
  const attacker = await clientAt(app, '203.0.113.99');
  for (let i = 0; i < 5; i++) await attacker.post('/login', { email: `nobody${i}@example.com`, password: 'x' });
  const responses: Response[] = [];
  for (let batch = 0; batch < 5; batch++) {
    responses.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => attacker.post('/login', { email: `flood${batch * 100 + i}@example.com`, password: 'x' })))));
  }
  t.same(statuses(responses), { 429: 500 });
  const throttled = await audited(app, 'auth.loginThrottled');
  t.equal(throttled.length, 1, 'the first refusal of the window is audited, the others counted');
  t.equal(throttled[0]!.ip, '203.0.113.99');
});

t.test('a hashing flood from one /64 of rotating addresses: the real admin gets in, and the 503s are audited once', async (t) => {
  const app = await buildTestApp(t, { RELAIS_PASSWORD_HASH_COST: '14' });
  const user = await createAccount(app, 'admin');
  const admin = await clientAt(app, '192.0.2.10');
  const attackers = await Promise.all(Array.from({ length: 40 }, (_, i) => clientAt(app, `2001:db8:66::${(i + 1).toString(16)}`)));
  let stop = false;
  const flood: Response[] = [];
  let i = 0;
  // 14 requests in flight at all times (2 hashing, 10 waiting and a margin), unknown accounts: each costs a hash.
  const worker = async () => {
    while (!stop) flood.push(await attackers[i++ % attackers.length]!.post('/login', { email: `ghost${i}@example.com`, password: 'x' }));
  };
  const workers = Array.from({ length: 14 }, worker);
  await new Promise((r) => setTimeout(r, 300));
  const adminTries: number[] = [];
  for (let k = 0; k < 5; k++) {
    adminTries.push((await admin.post('/login', { email: user.email, password: testPassword })).statusCode);
    if (adminTries.at(-1) === 303) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  stop = true;
  await Promise.all(workers);
  t.comment(`admin: ${adminTries.join(' ')}; flood: ${JSON.stringify(statuses(flood))}`);
  t.same(adminTries, [303], 'the admin gets in at the first try');
  t.ok((statuses(flood)[503] ?? 0) > 0, 'the flood did fill the shared places');
  const busy = await audited(app, 'auth.loginBusy');
  t.equal(busy.length, 1, 'one audit entry for the burst of 503 from that /64');
  t.match(busy[0]!.ip, /^2001:db8:66::/, 'with the address that sent it');
});

t.test('the hashing queue: trusted verifications have places of their own and go first', async (t) => {
  const queue = createHashQueue({ concurrency: 1, queue: 1, reserved: 1 });
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const running = queue.run(() => gate.then(() => order.push('running')), { refuseWhenFull: true });
  const shared = queue.run(async () => order.push('shared'), { refuseWhenFull: true });
  await t.rejects(queue.run(async () => order.push('refused'), { refuseWhenFull: true }), { message: 'Too many password verifications are waiting' }, 'the shared places are full');
  const trusted = queue.run(async () => order.push('trusted'), { refuseWhenFull: true, trusted: true });
  await t.rejects(queue.run(async () => order.push('refused'), { refuseWhenFull: true, trusted: true }), { message: 'Too many password verifications are waiting' }, 'so are the trusted ones');
  release();
  await Promise.all([running, shared, trusted]);
  t.same(order, ['running', 'trusted', 'shared'], 'the trusted one went before the shared one');
});

t.test('the refusal log: once per key per window, the rest counted, and bounded', async (t) => {
  const log = createRefusalLog(1000, 3);
  t.same(log.note('a', 0), { report: true, unreported: 0 });
  t.same(log.note('a', 10), { report: false });
  t.same(log.note('a', 20), { report: false });
  t.same(log.note('a', 1000), { report: true, unreported: 2 }, 'the next window says how many went unreported');
  for (const key of ['b', 'c', 'd', 'e']) t.same(log.note(key, 1001), { report: true, unreported: 0 });
  t.same(log.note('b', 1002), { report: true, unreported: 0 }, 'past its bound the oldest keys are forgotten, never more than the bound kept');
});
