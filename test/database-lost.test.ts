import t from 'tap';
import { databaseFrom } from '../src/config.js';
import { StoreUnavailableError } from '../src/db/failures.js';
import { openStores } from '../src/db/open.js';
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
