import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { databaseFrom } from '../src/config.js';
import { openStores } from '../src/db/open.js';
import type { ProbeReport } from '../src/smtp/report.js';
import { createConnectionTestRepository } from '../src/smtp-probe/repository.js';
import { serverRows } from './server-rows.js';
import { forEachStore, type TestStore } from './stores.js';

async function storesFor(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return { stores, tests: createConnectionTestRepository(stores) };
}

const admin = { userId: null, name: 'Alice Martin', ip: '192.0.2.7' };

function reportOf(ok: boolean, startedAt: Date): ProbeReport {
  return {
    version: 1,
    ok,
    startedAt: startedAt.toISOString(),
    totalMs: 42,
    target: { host: 'smtp.exemple.fr', port: 587, security: 'starttls', authentication: 'password', email: 'ventes@exemple.fr', username: 'ventes', verifyCertificate: true },
    address: '192.0.2.25',
    banner: '220 smtp.exemple.fr ESMTP',
    capabilities: null,
    tls: null,
    steps: [],
    diagnosis: ok ? null : { kind: 'authFailed', key: 'diagnosis.authFailed', params: { user: 'ventes' } },
  };
}

await forEachStore(t, 'a saved server’s test: kept on the row unless an edit outran it', async (t, store) => {
  const { stores, tests } = await storesFor(t, store);
  const rows = await serverRows(t, store, stores);
  const id = await rows.insert('Vente', 'ventes@exemple.fr');
  t.equal(await stores.probes.lastOf(id), null, 'never tested');

  const startedAt = new Date(Date.UTC(2026, 0, 2, 9, 30, 15, 123));
  const failed = reportOf(false, startedAt);
  t.equal(await tests.recordServerTest(id, 'Vente', failed, admin, 1, { kind: 'stored' }), true);
  const last = (await stores.probes.lastOf(id))!;
  t.equal(last.at.getTime(), startedAt.getTime(), 'when, to the millisecond');
  t.equal(last.ok, false);
  t.same(JSON.parse(last.report), failed, 'the whole report');
  t.same((await stores.audit.list({ action: 'server.test' })).rows.map((r) => [r.actor, r.targetId, r.summary, r.changes]), [
    [
      'Alice Martin',
      String(id),
      'Vente',
      {
        target: [null, 'smtp.exemple.fr:587'],
        result: [null, 'failed'],
        diagnosis: [null, { key: 'diagnosis.authFailed', params: { user: 'ventes' } }],
        storedPassword: [null, 'smtp.exemple.fr:587'],
      },
    ],
  ]);

  // Edited while a second test ran: the result of the old settings is not stamped on the new ones.
  await rows.edit(id, 'smtp2.exemple.fr');
  t.equal(await tests.recordServerTest(id, 'Vente', reportOf(true, new Date(startedAt.getTime() + 1000)), admin, 1), false);
  t.equal((await stores.probes.lastOf(id))!.ok, false, 'the earlier result stays as it was');
  t.same((await stores.audit.list({ action: 'server.test' })).rows[0]!.changes, { target: [null, 'smtp.exemple.fr:587'], result: [null, 'ok'], retained: [null, false] });

  t.equal(await tests.recordServerTest(id, 'Vente', reportOf(true, startedAt), admin, 2), true, 'tested as it now is');
  t.equal((await stores.probes.lastOf(id))!.ok, true);
  t.equal(await tests.recordServerTest(id + 100, 'Disparu', reportOf(true, startedAt), admin, 1), false, 'a deleted server keeps nothing');
  t.equal((await stores.audit.list({ action: 'server.test' })).total, 4, 'every test is in the audit trail');

  if (store.kind === 'postgres') {
    // The edit still in progress elsewhere when the test ends: the result waits for it and is not stamped.
    const edit = await rows.editInProgress(id, 'smtp3.exemple.fr');
    const recording = tests.recordServerTest(id, 'Vente', reportOf(false, startedAt), admin, 2);
    await sleep(100);
    await edit.commit();
    t.equal(await recording, false);
    t.equal((await stores.probes.lastOf(id))!.ok, true, 'the result of the settings before the edit is not replaced');
  }
});

await forEachStore(t, 'a test of unsaved values: only the audit trail keeps it', async (t, store) => {
  const { stores, tests } = await storesFor(t, store);
  const id = await (await serverRows(t, store, stores)).insert('Vente', 'ventes@exemple.fr');
  await tests.recordDraftTest(id, reportOf(true, new Date()), admin, { kind: 'typed', password: 'secret-typed' });
  await tests.recordDraftTest(null, reportOf(false, new Date()), admin, { kind: 'none' });
  t.equal(await stores.probes.lastOf(id), null, 'nothing on the row');
  const entries = (await stores.audit.list({ action: 'server.test' })).rows;
  t.same(entries.map((r) => [r.targetId, r.changes?.result, r.changes?.unsaved, r.changes?.storedPassword]), [
    [null, [null, 'failed'], [null, true], undefined],
    [String(id), [null, 'ok'], [null, true], undefined],
  ]);
  t.notMatch(JSON.stringify(entries), 'secret-typed', 'no password in the audit trail');
});
