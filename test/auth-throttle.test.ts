import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { accountDelayMs, defaultThrottlePolicy } from '../src/auth/throttle.js';
import { loadConfig } from '../src/config.js';
import { adminClient, buildTestApp, Client, createAccount, testPassword, text, type Response } from './helper.js';

async function auditActions(app: FastifyInstance, action: string) {
  return (await app.repositories.audit.list({ action, perPage: 500 })).rows;
}

/** A client on its own address, with the login page's CSRF token already in hand, so requests can go out at once. */
async function clientAt(app: FastifyInstance, address: string): Promise<Client> {
  const client = new Client(app);
  client.remoteAddress = address;
  await client.get('/login');
  return client;
}

function statuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
  return counts;
}

t.test('the throttle settings are read from the environment, with generous defaults per address', async (t) => {
  const defaults = loadConfig({ NODE_ENV: 'production' });
  t.same(defaults.loginThrottle, {
    windowMinutes: 15,
    pairMaxFailures: 5,
    accountFreeFailures: 5,
    accountMaxDelaySeconds: 900,
    addressMaxFailures: 100,
    accountFreshAddresses: 3,
    trustedDays: 30,
  });
  t.equal(defaults.passwordHashConcurrency, 2);
  t.equal(defaults.passwordHashQueue, 10);
  t.equal(defaults.passwordHashReserved, 5);
  const set = loadConfig({ RELAIS_LOGIN_PAIR_MAX_FAILURES: '3', RELAIS_LOGIN_ADDRESS_MAX_FAILURES: '500', RELAIS_PASSWORD_HASH_QUEUE: '0' });
  t.equal(set.loginThrottle.pairMaxFailures, 3);
  t.equal(set.loginThrottle.addressMaxFailures, 500);
  t.equal(set.passwordHashQueue, 0);
  const stricter = loadConfig({ RELAIS_LOGIN_ACCOUNT_FRESH_ADDRESSES: '0', RELAIS_LOGIN_TRUSTED_DAYS: '7', RELAIS_PASSWORD_HASH_RESERVED: '2' });
  t.same([stricter.loginThrottle.accountFreshAddresses, stricter.loginThrottle.trustedDays, stricter.passwordHashReserved], [0, 7, 2]);
  t.throws(() => loadConfig({ RELAIS_LOGIN_TRUSTED_DAYS: 'forever' }), /RELAIS_LOGIN_TRUSTED_DAYS/);
  t.throws(() => loadConfig({ RELAIS_LOGIN_PAIR_MAX_FAILURES: '0' }), /RELAIS_LOGIN_PAIR_MAX_FAILURES must be a whole number of at least 1/);
  t.throws(() => loadConfig({ RELAIS_PASSWORD_HASH_CONCURRENCY: 'lots' }), /RELAIS_PASSWORD_HASH_CONCURRENCY/);
});

t.test('30 simultaneous guesses for one account from one address: at most 5 are checked, the rest get 429', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const attacker = await clientAt(app, '203.0.113.9');
  const guesses = Array.from({ length: 30 }, (_, i) => (i === 17 ? testPassword : `wrong passphrase guess ${i}`));
  const responses = await Promise.all(guesses.map((password) => attacker.post('/login', { email: user.email, password })));

  const counts = statuses(responses);
  t.equal((counts[401] ?? 0) + (counts[303] ?? 0), 5, `5 checked, got ${JSON.stringify(counts)}`);
  t.equal(counts[429], 25);
  t.equal(responses[17]!.statusCode, 429, 'the right password, arriving after the limit, was not even checked');
  for (const res of responses.filter((r) => r.statusCode === 429)) {
    t.ok(Number(res.headers['retry-after']) > 0, 'each refusal says when to come back');
  }
  t.equal((await auditActions(app, 'auth.loginFailed')).length + (await auditActions(app, 'auth.login')).length, 5);
  const throttled = await auditActions(app, 'auth.loginThrottled');
  t.equal(throttled.length, 1, 'the first refusal of the pair is audited, the 24 others only counted');
  t.same(
    { actor: throttled[0]!.actor, ip: throttled[0]!.ip, targetId: throttled[0]!.targetId, summary: throttled[0]!.summary },
    { actor: user.email, ip: '203.0.113.9', targetId: String(user.id), summary: user.email },
  );
  t.notMatch(JSON.stringify(throttled), /passphrase/, 'no password in the audit trail');
});

t.test('two app instances on one database share the count: simultaneous guesses through both are still held to 5', async (t) => {
  // t.testdir() starts a folder afresh on each call: the shared file lives in a folder of the test's own.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'relais-instances-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shared = { RELAIS_DB: path.join(dir, 'relais.sqlite') };
  const first = await buildTestApp(t, shared);
  const second = await buildTestApp(t, shared);
  const user = await createAccount(first, 'admin');
  const clients = [await clientAt(first, '203.0.113.10'), await clientAt(second, '203.0.113.10')];
  const responses = await Promise.all(
    Array.from({ length: 20 }, (_, i) => clients[i % 2]!.post('/login', { email: user.email, password: `wrong passphrase guess ${i}` })),
  );
  t.same(statuses(responses), { 401: 5, 429: 15 });
});

t.test('15 simultaneous wrong current passwords on the password page: 5 checked, the rest 429', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const fresh = 'une toute nouvelle phrase secrète';
  const responses = await Promise.all(
    Array.from({ length: 15 }, (_, i) => admin.post('/account/password', { currentPassword: `guess number ${i}`, password: fresh, passwordConfirm: fresh })),
  );
  t.same(statuses(responses), { 422: 5, 429: 10 });
  const refused = responses.find((r) => r.statusCode === 429)!;
  t.match(text(refused.body), 'Trop de tentatives de connexion échouées. Réessayez dans 15 minutes.');
  t.match(refused.body, 'id="currentPassword-error"', 'the wait is shown next to the current-password field');
  const throttled = await auditActions(app, 'auth.loginThrottled');
  t.equal(throttled.length, 1, 'one audit entry for the burst');
  t.equal(throttled[0]!.userId, (await app.repositories.users.findUserByEmail('admin1@relais.test'))!.id, 'by the signed-in user');

  const right = await admin.post('/account/password', { currentPassword: testPassword, password: fresh, passwordConfirm: fresh });
  t.equal(right.statusCode, 429, 'that session waits too, even with the right password');
});

t.test('failures from other addresses cannot keep the owner out: an address that signed in before is let in at once', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const owner = await clientAt(app, '192.0.2.44');
  t.equal((await owner.post('/login', { email: user.email, password: testPassword })).statusCode, 303, 'the owner signed in yesterday, say');
  await owner.post('/logout', {});
  // A spread-out attack: 4 guesses from each of 5 addresses, each pair below its own limit.
  const seen: number[] = [];
  for (let a = 1; a <= 5; a++) {
    const attacker = await clientAt(app, `198.51.100.${a}`);
    for (let i = 0; i < 4; i++) seen.push((await attacker.post('/login', { email: user.email, password: `guess ${a}-${i} of the attack` })).statusCode);
  }
  t.ok(seen.filter((s) => s === 401).length >= 5, 'the account took at least 5 failures');
  t.ok(seen.includes(429), 'once it had, the attackers were held back');
  const again = await clientAt(app, '198.51.100.1');
  const slowed = await again.post('/login', { email: user.email, password: testPassword });
  t.equal(slowed.statusCode, 429, 'an address that failed waits, as the account has taken many failures');
  t.match(text(slowed.body), /Plusieurs tentatives ont échoué pour ce compte : par sécurité, attendez \d+ (secondes|minutes?) avant de réessayer\./);

  const newcomer = await clientAt(app, '192.0.2.45');
  t.equal((await newcomer.post('/login', { email: user.email, password: testPassword })).statusCode, 429, 'five addresses have failed: a new one waits too');
  const back = await clientAt(app, '192.0.2.44');
  const res = await back.post('/login', { email: user.email, password: testPassword });
  t.equal(res.statusCode, 303, 'the owner, from an address that signed in before, is let in');
  t.ok(back.cookies.has('relais_session'));
});

t.test('one address over one account: 5 failures, then the wait in words; other accounts and addresses are not affected', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const other = await createAccount(app, 'viewer');
  const client = await clientAt(app, '10.1.2.3');
  for (let i = 1; i <= 5; i++) {
    t.equal((await client.post('/login', { email: user.email, password: `wrong passphrase number ${i}` })).statusCode, 401);
  }
  const blocked = await client.post('/login', { email: user.email.toUpperCase(), password: testPassword });
  t.equal(blocked.statusCode, 429);
  t.match(text(blocked.body), 'Trop de tentatives de connexion échouées. Réessayez dans 15 minutes.');
  const retryAfter = Number(blocked.headers['retry-after']);
  t.ok(retryAfter > 880 && retryAfter <= 900, `Retry-After ${retryAfter} s`);
  t.equal((await client.post('/login', { email: other.email, password: testPassword })).statusCode, 303, 'another account from that address');
  const elsewhere = await clientAt(app, '10.9.9.9');
  t.equal((await elsewhere.post('/login', { email: user.email, password: testPassword })).statusCode, 303, 'that account from elsewhere');
});

t.test('in English, the wait is said in English words', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = await clientAt(app, '10.4.4.4');
  const english = { 'accept-language': 'en' };
  for (let i = 1; i <= 5; i++) await client.post('/login', { email: user.email, password: `wrong passphrase number ${i}` }, english);
  const blocked = await client.post('/login', { email: user.email, password: testPassword }, english);
  t.equal(blocked.statusCode, 429);
  t.match(text(blocked.body), 'Too many failed sign-in attempts. Try again in 15 minutes.');
});

t.test('many people behind one address: a generous ceiling, then 429 for that address', async (t) => {
  const app = await buildTestApp(t, { RELAIS_LOGIN_ADDRESS_MAX_FAILURES: '12' });
  const user = await createAccount(app, 'admin');
  const office = await clientAt(app, '192.0.2.1');
  // Colleagues behind one NAT mistyping their passwords: more failures than one account's limit, not blocked.
  for (let i = 1; i <= 11; i++) {
    t.equal((await office.post('/login', { email: `colleague${i}@relais.test`, password: 'a mistyped passphrase' })).statusCode, 401);
  }
  t.equal((await office.post('/login', { email: user.email, password: testPassword })).statusCode, 303, 'below the ceiling, the office still signs in');
  const again = await clientAt(app, '192.0.2.1');
  t.equal((await again.post('/login', { email: 'colleague12@relais.test', password: 'a mistyped passphrase' })).statusCode, 401);
  const refused = await again.post('/login', { email: user.email, password: testPassword });
  t.equal(refused.statusCode, 429, 'at the ceiling, the address waits');
  t.match(text(refused.body), 'Réessayez dans 15 minutes.');
});

t.test('the account delay starts after 5 failures and doubles, up to its ceiling; a success resets it', async (t) => {
  const policy = defaultThrottlePolicy;
  t.same([4, 5, 6, 7, 10].map((n) => accountDelayMs(n, policy)), [0, 1000, 2000, 4000, 32_000]);
  t.equal(accountDelayMs(30, policy), 15 * 60_000);

  const app = await buildTestApp(t);
  const throttle = app.repositories.loginThrottle;
  const email = 'target@relais.test';
  const start = Date.now();
  const at = (s: number) => new Date(start + s * 1000);
  // Two addresses taking turns, each below the pair limit of 5: 8 failures, the clock moving as the delays allow.
  const times = [0, 1, 2, 3, 4, 5, 7, 11];
  for (const [i, s] of times.entries()) {
    const reservation = await throttle.reserve(email, `10.0.0.${i % 2}`, at(s));
    t.ok(reservation.reserved, `failure ${i + 1} at ${s} s`);
  }
  t.same(await throttle.reserve(email, '10.0.0.1', at(12)), { reserved: false, retryAfterMs: 7000, reason: 'account' }, '8 failures: 8 s after the last');
  t.ok((await throttle.reserve(email, '10.0.0.1', at(19))).reserved, 'allowed once the wait is over');
  const fresh = await throttle.reserve(email, '10.0.0.7', at(19.5));
  t.ok(fresh.reserved, 'an address that has not failed is not held back by the account delay');
  if (fresh.reserved) await throttle.succeeded(fresh.attemptId);
  t.ok((await throttle.reserve(email, '10.0.0.0', at(20))).reserved, 'after a success the account delay starts over');
});

t.test('a flood of sign-ins fills the hashing queue: the extra ones get 503 with Retry-After at once, and count for nothing', async (t) => {
  const app = await buildTestApp(t, { RELAIS_PASSWORD_HASH_COST: '15', RELAIS_PASSWORD_HASH_CONCURRENCY: '1', RELAIS_PASSWORD_HASH_QUEUE: '2', RELAIS_PASSWORD_HASH_RESERVED: '0' });
  const user = await createAccount(app, 'admin');
  const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => clientAt(app, `172.16.0.${i + 1}`)));
  const timed = await Promise.all(
    clients.map(async (client, i) => {
      const started = performance.now();
      const res = await client.post('/login', { email: `bogus${i}@relais.test`, password: 'a bogus passphrase' });
      return { res, ms: performance.now() - started };
    }),
  );
  const busy = timed.filter(({ res }) => res.statusCode === 503);
  const checked = timed.filter(({ res }) => res.statusCode === 401);
  t.ok(busy.length >= 8, `${busy.length} got 503`);
  t.equal(busy.length + checked.length, 12);
  const slowestChecked = Math.max(...checked.map(({ ms }) => ms));
  for (const { res, ms } of busy) {
    t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After says when');
    t.match(text(res.body), /Le serveur vérifie déjà beaucoup de mots de passe\. Réessayez dans \d+ secondes?\./);
    t.ok(ms < slowestChecked, 'refused before the queued checks were done');
  }
  t.equal((await auditActions(app, 'auth.loginFailed')).length, checked.length, 'a refused sign-in checked nothing and is no failure');

  const owner = await clientAt(app, '172.16.0.1');
  t.equal((await owner.post('/login', { email: user.email, password: testPassword })).statusCode, 303, 'once the flood is over, sign-in works');
});
