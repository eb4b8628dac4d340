import t, { type Test } from 'tap';
import { createPasswordHasher } from '../src/auth/password.js';
import { createSessionRepository } from '../src/auth/sessions.js';
import { prepareFirstStart, setupTokenUsable } from '../src/auth/setup.js';
import { accountKey, createLoginThrottle, defaultThrottlePolicy } from '../src/auth/throttle.js';
import { hashToken, newToken } from '../src/auth/tokens.js';
import { createUserRepository, DuplicateEmailError, LastAdminError, SetupTokenError } from '../src/auth/users.js';
import { databaseFrom } from '../src/config.js';
import { openStores } from '../src/db/open.js';
import type { Stores } from '../src/db/stores.js';
import { forEachStore, type TestStore } from './stores.js';

/** An instance's view of the database: its own connection (SQLite handle or PostgreSQL pool). */
async function instance(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  const hasher = createPasswordHasher(10, { concurrency: 2, queue: 100 });
  return { stores, users: createUserRepository(stores, hasher) };
}

const passphrase = 'une phrase de passe solide';
const limits = { idleMs: 30 * 60_000, absoluteMs: 8 * 3600_000 };
const someone = { userId: null, name: 'Test', ip: '192.0.2.1' };

/** Fails unless the promise rejects with an instance of that class (tap's class matching compares shapes instead). */
async function rejectsWith(t: Test, promise: Promise<unknown>, type: new (...args: never[]) => Error) {
  const err = await promise.then(() => null, (e: unknown) => e);
  t.ok(err instanceof type, `rejected with ${type.name}`);
}

async function actions(stores: Stores, action: string) {
  return (await stores.audit.list({ action, perPage: 500 })).rows;
}

await forEachStore(t, 'users: create, list, update, duplicate email, credentials', async (t, store) => {
  const { stores, users } = await instance(t, store);
  const zoe = await users.createUser({ email: ' Zoé@Exemple.FR ', displayName: 'zoé', role: 'admin', password: passphrase }, someone);
  t.match(zoe, { email: 'zoé@exemple.fr', displayName: 'zoé', role: 'admin', disabled: false });
  t.type(zoe.createdAt, Date);
  t.notOk('passwordHash' in zoe, 'a view never holds the hash');
  const ada = await users.createUser({ email: 'ada@exemple.fr', displayName: 'Ada', role: 'viewer', password: passphrase }, someone);
  await users.createUser({ email: 'bob@exemple.fr', displayName: 'bob', role: 'viewer', password: passphrase }, someone);
  t.same((await users.listUsers()).map((u) => u.displayName), ['Ada', 'bob', 'zoé'], 'by name ignoring case');
  t.equal(await users.countUsers(), 3);
  t.equal((await users.findUserByEmail('ADA@exemple.fr'))?.id, ada.id);
  t.equal(await users.findUser(9999), null);

  await rejectsWith(t, users.createUser({ email: 'ADA@exemple.fr', displayName: 'Other', role: 'viewer', password: passphrase }, someone), DuplicateEmailError);
  await rejectsWith(t, users.updateUser(zoe.id, { email: 'ada@exemple.fr', displayName: 'zoé', role: 'admin', disabled: false }, someone), DuplicateEmailError);
  t.equal(await users.countUsers(), 3, 'a refused create adds nobody');
  t.equal((await users.findUser(zoe.id))?.email, 'zoé@exemple.fr', 'a refused update changes nothing');

  const updated = await users.updateUser(ada.id, { email: 'ada@exemple.fr', displayName: 'Ada L.', role: 'admin', disabled: false }, someone);
  t.same(updated?.changes, { displayName: ['Ada', 'Ada L.'], role: ['viewer', 'admin'] });
  t.equal(updated?.user.role, 'admin');
  t.same((await users.updateUser(ada.id, { email: 'ada@exemple.fr', displayName: 'Ada L.', role: 'admin', disabled: false }, someone))?.changes, {}, 'nothing changed');
  t.equal(await users.updateUser(9999, { email: 'x@exemple.fr', displayName: 'X', role: 'viewer', disabled: false }, someone), null);

  const audit = await actions(stores, 'user.create');
  t.equal(audit.length, 3, 'one entry per account created, none for the refused one');
  t.same(audit.find((r) => r.targetId === String(zoe.id))?.changes?.password, [null, 'modifié'], 'the password as a marker');
  t.notMatch(JSON.stringify(await stores.audit.list({ perPage: 500 })), passphrase);
  t.equal((await actions(stores, 'user.update')).length, 1);

  t.equal((await users.checkCredentials('zoé@exemple.fr', passphrase))?.id, zoe.id);
  t.equal(await users.checkCredentials('zoé@exemple.fr', 'wrong passphrase here'), null);
  t.equal(await users.checkCredentials('nobody@exemple.fr', passphrase), null);
  const hash = (await stores.users.passwordHashOf(zoe.id))!;
  t.equal(await stores.users.setPasswordHash(zoe.id, 'scrypt$upgraded', { ifHashIs: 'scrypt$someone-else' }), false, 'an upgrade over a changed hash is dropped');
  t.equal(await stores.users.passwordHashOf(zoe.id), hash);
  t.equal(await users.verifyPassword(zoe.id, passphrase), true);
  t.equal(await users.verifyPassword(9999, passphrase), false);
});

await forEachStore(t, 'the last active administrator can be neither disabled nor demoted, even by two at once', async (t, store) => {
  const first = await instance(t, store);
  const second = await instance(t, store);
  const a = await first.users.createUser({ email: 'a@exemple.fr', displayName: 'A', role: 'admin', password: passphrase }, someone);
  const b = await first.users.createUser({ email: 'b@exemple.fr', displayName: 'B', role: 'admin', password: passphrase }, someone);
  const demote = (users: typeof first.users, id: number, email: string) =>
    users.updateUser(id, { email, displayName: email[0]!.toUpperCase(), role: 'viewer', disabled: false }, someone).then(
      () => 'demoted',
      (err: unknown) => (err instanceof LastAdminError ? 'refused' : Promise.reject(err)),
    );
  // Each instance demotes the other administrator at the same moment: one must be refused.
  const outcomes = await Promise.all([demote(first.users, a.id, 'a@exemple.fr'), demote(second.users, b.id, 'b@exemple.fr')]);
  t.same(outcomes.sort(), ['demoted', 'refused']);
  const admins = (await first.users.listUsers()).filter((u) => u.role === 'admin' && !u.disabled);
  t.equal(admins.length, 1, 'one active administrator remains');
  const last = admins[0]!;
  await rejectsWith(t, first.users.updateUser(last.id, { email: last.email, displayName: last.displayName, role: 'admin', disabled: true }, someone), LastAdminError);
  t.equal((await first.users.findUser(last.id))?.disabled, false, 'a refused change changes nothing');
});

await forEachStore(t, 'disabling a user or resetting a password ends their sessions', async (t, store) => {
  const { stores, users } = await instance(t, store);
  const sessions = createSessionRepository(stores, limits);
  await users.createUser({ email: 'admin@exemple.fr', displayName: 'Admin', role: 'admin', password: passphrase }, someone);
  const eve = await users.createUser({ email: 'eve@exemple.fr', displayName: 'Eve', role: 'viewer', password: passphrase }, someone);
  const browser = { ip: '192.0.2.9', userAgent: 'test' };
  const kept = await sessions.createSession(eve.id, browser);
  const other = await sessions.createSession(eve.id, browser);
  await users.setPassword(eve.id, 'une autre phrase de passe', someone, { action: 'user.passwordChange', keepSessionOf: kept.idHash });
  t.same((await stores.sessions.ofUser(eve.id)).map((s) => s.idHash), [kept.idHash], 'a change keeps the session in use, ends the others');
  t.equal(await sessions.resolveSession(other.id), null);
  t.equal(await users.checkCredentials('eve@exemple.fr', passphrase), null, 'the old password no longer opens');
  t.ok(await users.checkCredentials('eve@exemple.fr', 'une autre phrase de passe'));
  const audit = await actions(stores, 'user.passwordChange');
  t.same(audit[0]?.changes, { password: ['modifié', 'modifié'] });

  await users.updateUser(eve.id, { email: 'eve@exemple.fr', displayName: 'Eve', role: 'viewer', disabled: true }, someone);
  t.same(await stores.sessions.ofUser(eve.id), [], 'disabling ends every session');
  t.equal(await users.checkCredentials('eve@exemple.fr', 'une autre phrase de passe'), null, 'a disabled account does not open');
  t.equal(await users.setPassword(9999, passphrase, someone, { action: 'user.passwordReset' }), null);
});

await forEachStore(t, 'sessions: create, resolve, idle and absolute limits, destroy, purge', async (t, store) => {
  const { stores, users } = await instance(t, store);
  const sessions = createSessionRepository(stores, limits);
  const user = await users.createUser({ email: 'ines@exemple.fr', displayName: 'Inès', role: 'viewer', password: passphrase }, someone);
  const start = new Date(Date.UTC(2026, 0, 5, 9));
  const at = (ms: number) => new Date(start.getTime() + ms);

  const session = await sessions.createSession(user.id, { ip: '192.0.2.3', userAgent: 'x'.repeat(500) }, start);
  const elsewhere = createSessionRepository((await instance(t, store)).stores, limits);
  t.equal((await elsewhere.resolveSession(session.id, at(500)))?.user.id, user.id, 'a session opened on one instance is valid on another');
  t.match(session.id, /^[A-Za-z0-9_-]{43}$/);
  const [row] = await stores.sessions.ofUser(user.id);
  t.equal(row?.idHash, hashToken(session.id), 'only the hash is stored');
  t.equal(row?.expiresAt.getTime(), start.getTime() + limits.absoluteMs);
  t.equal(row?.userAgent?.length, 300);
  t.same(await sessions.resolveSession(session.id, at(1000)), { idHash: session.idHash, user: { id: user.id, email: 'ines@exemple.fr', displayName: 'Inès', role: 'viewer' } });
  t.equal(await sessions.resolveSession('unknown'), null);
  t.equal(await sessions.resolveSession(''), null);

  // Activity slides the idle window: a request every 20 minutes for 2 hours keeps it alive.
  for (let m = 20; m <= 120; m += 20) t.ok(await sessions.resolveSession(session.id, at(m * 60_000)), `alive at ${m} min`);
  t.equal((await stores.sessions.lookup(session.idHash))?.lastSeenAt.getTime(), at(120 * 60_000).getTime(), 'last seen moved');
  t.equal(await sessions.resolveSession(session.id, at(151 * 60_000)), null, '31 minutes idle ends it');
  t.equal(await stores.sessions.lookup(session.idHash), null, 'and deletes it');

  const active = await sessions.createSession(user.id, { ip: null, userAgent: null }, start);
  for (let m = 25; m < 8 * 60; m += 25) await sessions.resolveSession(active.id, at(m * 60_000));
  t.equal(await sessions.resolveSession(active.id, at(limits.absoluteMs)), null, 'however active, 8 hours end it');

  const a = await sessions.createSession(user.id, { ip: null, userAgent: null }, start);
  await sessions.destroySession(a.id);
  t.equal(await stores.sessions.lookup(a.idHash), null, 'destroyed');

  const now = new Date();
  const idle = await sessions.createSession(user.id, { ip: null, userAgent: null }, new Date(now.getTime() - 31 * 60_000));
  const old = await sessions.createSession(user.id, { ip: null, userAgent: null }, new Date(now.getTime() - 9 * 3600_000));
  await stores.sessions.touch(old.idHash, now);
  const fresh = await sessions.createSession(user.id, { ip: null, userAgent: null }, now);
  t.equal(await sessions.purgeExpired(now), 2, 'the idle one and the one past its absolute limit');
  t.same((await stores.sessions.ofUser(user.id)).map((s) => s.idHash), [fresh.idHash]);
  t.notOk(await stores.sessions.lookup(idle.idHash));

  const b = await sessions.createSession(user.id, { ip: null, userAgent: null }, now);
  t.equal(await sessions.destroyUserSessions(user.id, b.idHash), 1, 'all but the one kept');
  t.equal(await sessions.destroyUserSessions(user.id), 1);
});

await forEachStore(t, 'the setup link is used once, even by simultaneous requests', async (t, store) => {
  const { stores, users } = await instance(t, store);
  const token = newToken();
  await stores.setupTokens.insert(hashToken(token), new Date());
  t.equal(await setupTokenUsable(stores, token), true);
  t.equal(await setupTokenUsable(stores, newToken()), false, 'an unknown link');
  t.equal(await setupTokenUsable(stores, 'short'), false, 'not even shaped like one');

  const attempts = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => users.createUser({ email: `admin${i}@exemple.fr`, displayName: `Admin ${i}`, role: 'admin', password: passphrase }, someone, { setupToken: token })),
  );
  const created = attempts.filter((a) => a.status === 'fulfilled');
  t.equal(created.length, 1, 'one administrator from one link');
  t.ok(attempts.every((a) => a.status === 'fulfilled' || a.reason instanceof SetupTokenError), 'the others are told the link is spent');
  t.equal(await users.countUsers(), 1);
  t.equal(await setupTokenUsable(stores, token), false);
  const [entry] = await actions(stores, 'user.create');
  t.equal(entry?.actor, (created[0] as PromiseFulfilledResult<{ email: string }>).value.email, 'the first administrator is the author of their account');

  const spare = newToken();
  await stores.setupTokens.insert(hashToken(spare), new Date());
  t.equal(await setupTokenUsable(stores, spare), false, 'an unused link stops working once an account exists');
  await rejectsWith(t, users.createUser({ email: 'late@exemple.fr', displayName: 'Late', role: 'admin', password: passphrase }, someone, { setupToken: spare }), SetupTokenError);
  t.equal(await stores.setupTokens.isUnused(hashToken(spare)), true, 'a refused use leaves the token as it was');
  t.equal(await stores.setupTokens.use(hashToken(spare), new Date()), true);
  t.equal(await stores.setupTokens.use(hashToken(spare), new Date()), false, 'a token is used once');
});

const firstStartOptions = { publicUrl: 'http://relais.test' };

await forEachStore(t, 'first start: two instances starting at once create one administrator', async (t, store) => {
  const one = await instance(t, store);
  const two = await instance(t, store);
  const env = { ...firstStartOptions, adminEmail: 'chef@exemple.fr', adminPassword: 'le relais des serveurs sortants' };
  // Even configured with different addresses (no unique email to save the day), only one of them creates its account.
  const other = { ...env, adminEmail: 'cheffe@exemple.fr' };
  const results = await Promise.all([prepareFirstStart(one.stores, one.users, env), prepareFirstStart(two.stores, two.users, other)]);
  t.same(results.map((r) => r.kind).sort(), ['adminCreated', 'ready']);
  const created = results.find((r) => r.kind === 'adminCreated');
  t.same((await one.users.listUsers()).map((u) => [u.email, u.role]), [[created?.kind === 'adminCreated' ? created.email : '', 'admin']]);
  t.equal((await actions(one.stores, 'user.create')).length, 1);
  t.same(await prepareFirstStart(two.stores, two.users, env), { kind: 'ready' }, 'a restart creates nobody');
});

await forEachStore(t, 'first start without an administrator: links from instances starting at once, one left usable', async (t, store) => {
  const one = await instance(t, store);
  const two = await instance(t, store);
  const results = await Promise.all([prepareFirstStart(one.stores, one.users, { ...firstStartOptions, adminEmail: undefined, adminPassword: undefined }), prepareFirstStart(two.stores, two.users, { ...firstStartOptions, adminEmail: undefined, adminPassword: undefined })]);
  const tokens = results.map((r) => (r.kind === 'setupLink' ? r.url.split('/').pop()! : ''));
  const usable = await Promise.all(tokens.map((token) => setupTokenUsable(one.stores, token)));
  t.equal(usable.filter(Boolean).length, 1, 'the latest start’s link works, the earlier one is retired');
  t.equal(await one.stores.setupTokens.countUnused(), 1);
  const winner = tokens[usable.indexOf(true)]!;
  await one.users.createUser({ email: 'ada@exemple.fr', displayName: 'Ada', role: 'admin', password: passphrase }, someone, { setupToken: winner });
  t.same(await prepareFirstStart(two.stores, two.users, { ...firstStartOptions, adminEmail: undefined, adminPassword: undefined }), { kind: 'ready' });
});

await forEachStore(t, 'the throttle: 30 simultaneous reservations, from two instances, reserve exactly the limit', async (t, store) => {
  const one = await instance(t, store);
  const two = await instance(t, store);
  const throttles = [createLoginThrottle(one.stores), createLoginThrottle(two.stores)];
  const now = new Date();
  const reservations = await Promise.all(Array.from({ length: 30 }, (_, i) => throttles[i % 2]!.reserve('ada@exemple.fr', '203.0.113.5', now)));
  const reserved = reservations.filter((r) => r.reserved);
  t.equal(reserved.length, defaultThrottlePolicy.pairMaxFailures, `exactly ${defaultThrottlePolicy.pairMaxFailures} reserved`);
  const refused = reservations.filter((r) => !r.reserved);
  t.ok(refused.every((r) => !r.reserved && r.reason === 'pair' && r.retryAfterMs === defaultThrottlePolicy.windowMs), 'the others wait for the window');

  t.ok((await throttles[0]!.reserve('ada@exemple.fr', '198.51.100.7', now)).reserved, 'another address is not held back by the pair');
  t.ok((await throttles[1]!.reserve('bob@exemple.fr', '203.0.113.5', now)).reserved, 'another account from the same address neither');
});

await forEachStore(t, 'the throttle: success resets the pair, cancel forgets, the address ceiling, purge', async (t, store) => {
  const { stores } = await instance(t, store);
  const policy = { ...defaultThrottlePolicy, pairMaxFailures: 3, addressMaxFailures: 6 };
  const throttle = createLoginThrottle(stores, policy);
  const start = Date.UTC(2026, 0, 5, 9);
  const at = (s: number) => new Date(start + s * 1000);
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await throttle.reserve('ada@exemple.fr', '192.0.2.1', at(i));
    if (r.reserved) ids.push(r.attemptId);
  }
  t.equal(ids.length, 2);
  await throttle.succeeded(ids[1]!);
  for (let i = 0; i < 3; i++) t.ok((await throttle.reserve('ada@exemple.fr', '192.0.2.1', at(10 + i))).reserved, `after a success, failure ${i + 1} is allowed`);
  const held = await throttle.reserve('ada@exemple.fr', '192.0.2.1', at(20));
  t.same(held, { reserved: false, reason: 'pair', retryAfterMs: policy.windowMs - 10_000 }, 'the oldest of the 3 failures must age out');

  const r = await throttle.reserve('bob@exemple.fr', '192.0.2.1', at(21));
  t.ok(r.reserved);
  if (r.reserved) await throttle.cancel(r.attemptId);
  for (let i = 0; i < 2; i++) t.ok((await throttle.reserve(`user${i}@exemple.fr`, '192.0.2.1', at(22))).reserved);
  // 1 + 3 failures of ada and 2 others = 6: the address's ceiling.
  const ceiling = await throttle.reserve('carol@exemple.fr', '192.0.2.1', at(30));
  t.same(ceiling, { reserved: false, reason: 'address', retryAfterMs: policy.windowMs - 30_000 }, 'the cancelled attempt did not count');

  t.equal(await throttle.purge(new Date(start + 24 * 3600_000 + 10_500)), 2, 'failures older than a day are purged, the success is kept');
  t.ok((await throttle.reserve('ada@exemple.fr', '192.0.2.1', at(24 * 3600))).reserved);
  t.equal(await throttle.purge(new Date(start + 31 * 24 * 3600_000)), 6, 'successes go once they vouch for nothing');
});

await forEachStore(t, 'the throttle: one IPv6 /64 is one address, fresh addresses are capped per account, a past success vouches', async (t, store) => {
  const { stores } = await instance(t, store);
  const throttle = createLoginThrottle(stores);
  const start = Date.UTC(2026, 0, 5, 9);
  const at = (s: number) => new Date(start + s * 1000);

  const owner = await throttle.reserve('ada@exemple.fr', '2001:db8:aa:1::5', at(0));
  t.ok(owner.reserved && owner.trusted, 'an address that has never failed is trusted');
  if (owner.reserved) await throttle.succeeded(owner.attemptId);

  // 60 addresses of one /64, one after the other: counted as one address, held to the pair's 5.
  const oneHost = [];
  for (let i = 1; i <= 60; i++) oneHost.push(await throttle.reserve('ada@exemple.fr', `2001:db8:1:2::${i.toString(16)}`, at(10 + i)));
  t.equal(oneHost.filter((r) => r.reserved).length, 5, 'one /64 gets 5 guesses');
  t.match(oneHost.at(-1), { reserved: false, reason: 'pair' });

  // Fresh /64s: the first 3 failing addresses are spared the account's delay; after them, every new one waits.
  const fresh = [];
  for (let i = 1; i <= 4; i++) fresh.push(await throttle.reserve('ada@exemple.fr', `2001:db8:${i + 10}::1`, at(100 + i)));
  t.same(fresh.map((r) => r.reserved), [true, true, false, false], 'past 3 failing addresses, a fresh one waits the account delay');
  t.match(fresh.at(-1), { reserved: false, reason: 'account' });
  t.ok(fresh[0]!.reserved && fresh[0]!.trusted, 'while few addresses have failed, a fresh one is trusted');

  const back = await throttle.reserve('ada@exemple.fr', '2001:db8:aa:1::77', at(105));
  t.ok(back.reserved && back.trusted, 'the owner, from the /64 that signed in before, is spared and trusted');

  const days = await throttle.reserve('ada@exemple.fr', '2001:db8:aa:1::5', new Date(start + 29 * 24 * 3600_000));
  t.ok(days.reserved && days.trusted, 'a success 29 days ago still vouches');
});

await forEachStore(t, 'the throttle: an email is normalised and cut once, so long and composed variants count as one', async (t, store) => {
  const { stores } = await instance(t, store);
  const throttle = createLoginThrottle(stores, { ...defaultThrottlePolicy, pairMaxFailures: 2 });
  const now = new Date();
  // « é » written decomposed (e + U+0301) shortens under NFC; U+0958 lengthens (it composes to two code units).
  t.equal(accountKey(`a${'😀'.repeat(200)}`), `a${'😀'.repeat(159)}`, 'never half a surrogate pair');
  for (const long of [`${'e\u0301'.repeat(330)}@exemple.fr`, `${'\u0958'.repeat(300)}@exemple.fr`]) {
    const variants = [long, long.normalize('NFC'), `  ${long.toUpperCase()}  `, long.normalize('NFC').slice(0, 320)];
    t.equal(accountKey(long).length, 320, 'cut to 320 after normalising');
    const results = [];
    for (const email of variants) results.push(await throttle.reserve(email, '198.51.100.8', now));
    t.same(results.map((r) => r.reserved), [true, true, false, false], 'every variant is the same account');
  }
});
