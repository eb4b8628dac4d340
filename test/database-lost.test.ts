import t from 'tap';
import { buildApp } from '../src/app.js';
import { databaseFrom } from '../src/config.js';
import { StoreUnavailableError } from '../src/db/failures.js';
import { openStores } from '../src/db/open.js';
import { adminClient, Client, testConfig, testPassword, text } from './helper.js';
import { freshPostgres, onPostgres, testPostgresUrl } from './stores.js';
import { startTcpProxy, throughProxy } from './tcp-proxy.js';

// PostgreSQL itself is shared by the machine: the outage is a TCP relay in front of it, cut and restored.
const target = { host: new URL(testPostgresUrl).hostname, port: Number(new URL(testPostgresUrl).port || 5432) };

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 100))) {
    if (await check()) return true;
  }
  return false;
}

onPostgres(t, 'stores: a lost connection is StoreUnavailableError and healthy() says unreachable; both come back with the database', async (t) => {
  const url = await freshPostgres();
  const proxy = await startTcpProxy(target);
  t.teardown(() => proxy.close());
  const { stores } = await openStores(databaseFrom(throughProxy(url, proxy)));
  t.teardown(() => stores.close());
  t.equal(await stores.healthy(), 'ok');
  t.equal(await stores.users.count(), 0);

  await proxy.cut();
  t.equal(await stores.healthy(), 'unreachable');
  const read = await stores.users.count().catch((err: unknown) => err);
  t.ok(read instanceof StoreUnavailableError, 'a read: StoreUnavailableError');
  const written = await stores.transaction(async (tx) => tx.audit.append({ userId: null, name: 'test', ip: null }, { action: 'marker', summary: 'x' })).catch((err: unknown) => err);
  t.ok(written instanceof StoreUnavailableError, 'a transaction: StoreUnavailableError');

  await proxy.restore();
  t.ok(await until(async () => (await stores.healthy()) === 'ok'), 'healthy again without a restart');
  t.equal(await stores.users.count(), 0, 'reads work again');
});

onPostgres(t, 'the app: while PostgreSQL is out of reach, /healthz says 503 and pages say so; it recovers by itself', async (t) => {
  const url = await freshPostgres();
  const proxy = await startTcpProxy(target);
  t.teardown(() => proxy.close());
  const app = await buildApp(testConfig(t.testdir(), { RELAIS_DB: throughProxy(url, proxy) }), { logger: false });
  t.teardown(() => app.close());
  const admin = await adminClient(app);
  t.equal((await admin.get('/audit')).statusCode, 200);

  await proxy.cut();
  const health = await app.inject({ url: '/healthz' });
  t.equal(health.statusCode, 503);
  t.same(health.json(), { status: 'error', database: 'unreachable' });
  const page = await admin.get('/audit');
  t.equal(page.statusCode, 503, 'a signed-in page: 503, not 500');
  t.match(text(page.body), 'La base de données ne répond pas');
  const english = await admin.get('/smtp-servers', { 'accept-language': 'en' });
  t.equal(english.statusCode, 503, 'in English too');
  t.match(text(english.body), 'The database is not answering');
  const signIn = await new Client(app).post('/login', { email: 'admin1@relais.test', password: testPassword });
  t.equal(signIn.statusCode, 503, 'a sign-in: 503');
  t.match(text(signIn.body), 'ne répond pas');

  await proxy.restore();
  t.ok(await until(async () => (await app.inject({ url: '/healthz' })).statusCode === 200), '/healthz is 200 again without a restart');
  t.equal((await admin.get('/audit')).statusCode, 200, 'the same session works again');
});
