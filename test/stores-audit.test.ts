import t, { type Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemActor } from '../src/audit/store.js';
import { databaseFrom } from '../src/config.js';
import { openStores } from '../src/db/open.js';
import { forEachStore, type TestStore } from './stores.js';

async function storesFor(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return stores;
}

const alice = { userId: null, name: 'Alice Martin', ip: '192.0.2.7' };

await forEachStore(t, 'the audit trail: entries, filters, pages', async (t, store) => {
  const stores = await storesFor(t, store);
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 7; i++) {
    await stores.audit.append(i % 2 ? alice : systemActor, { action: i < 5 ? 'server.create' : 'server.delete', targetType: 'smtp_server', targetId: i, summary: `Serveur Équipe ${i}`, changes: i === 6 ? { port: [25, 587] } : undefined }, new Date(base + i * 1000));
  }
  const all = await stores.audit.list({ perPage: 3 });
  t.equal(all.total, 7);
  t.equal(all.pages, 3);
  t.same(all.rows.map((r) => r.summary), ['Serveur Équipe 6', 'Serveur Équipe 5', 'Serveur Équipe 4'], 'newest first');
  t.same(all.rows[0]!.changes, { port: [25, 587] }, 'changes read back as they were written');
  t.equal(all.rows[0]!.at.getTime(), base + 6000, 'the time to the millisecond');
  t.equal(all.rows[0]!.targetId, '6');
  const last = await stores.audit.list({ perPage: 3, page: 99 });
  t.equal(last.page, 3, 'a page past the end is the last page');
  t.same(last.rows.map((r) => r.summary), ['Serveur Équipe 0']);
  t.equal((await stores.audit.list({ action: 'server.delete' })).total, 2);
  t.equal((await stores.audit.list({ text: 'alice' })).total, 3, 'text ignores case on both stores');
  t.equal((await stores.audit.list({ text: '587' })).total, 1, 'text searches the changes');
  t.equal((await stores.audit.list({ text: '100%' })).total, 0, 'a % is taken literally');
  t.same(await stores.audit.distinctActions(), ['server.create', 'server.delete']);
});

await forEachStore(t, 'transactions: all or nothing, joined when nested, one at a time', async (t, store) => {
  const stores = await storesFor(t, store);
  await t.rejects(
    stores.transaction(async (tx) => {
      await tx.audit.append(systemActor, { action: 'a.first' });
      await tx.transaction(async (inner) => inner.audit.append(systemActor, { action: 'a.nested' }));
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  t.equal((await stores.audit.list()).total, 0, 'a failed transaction leaves nothing, nested part included');

  await stores.transaction(async (tx) => {
    await tx.audit.append(systemActor, { action: 'b.first' });
    await tx.transaction(async (inner) => inner.audit.append(systemActor, { action: 'b.nested' }));
  });
  t.same((await stores.audit.distinctActions()).sort(), ['b.first', 'b.nested']);

  // Two transactions that await between their writes, and a plain write meanwhile: none lands inside another.
  const slow = (name: string) =>
    stores.transaction(async (tx) => {
      await tx.audit.append(systemActor, { action: 'c', summary: `${name}-1` }, new Date(Date.now()));
      await sleep(30);
      await tx.audit.append(systemActor, { action: 'c', summary: `${name}-2` }, new Date(Date.now()));
    });
  const failing = stores.transaction(async (tx) => {
    await tx.audit.append(systemActor, { action: 'c', summary: 'failing-1' });
    await sleep(10);
    throw new Error('rolled back');
  });
  await Promise.all([slow('x'), failing.catch(() => {}), stores.audit.append(systemActor, { action: 'c', summary: 'plain' }), slow('y')]);
  const summaries = (await stores.audit.list({ action: 'c' })).rows.map((r) => r.summary).sort();
  t.same(summaries, ['plain', 'x-1', 'x-2', 'y-1', 'y-2'], 'the failed one rolled back alone; the others all landed');
});
