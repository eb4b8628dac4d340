// The scheduled checks' store on both databases: first due times, claims under a lease, the certificate kept with
// the issuer it had before.
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildApp } from '../src/app.js';
import type { Stores } from '../src/db/stores.js';
import { testConfig } from './helper.js';
import { forEachStore } from './stores.js';

async function addServer(stores: Stores, title: string): Promise<number> {
  return stores.servers.insert({
    title,
    titleKey: title.toLowerCase(),
    titleSort: title.toLowerCase(),
    host: 'smtp.exemple.fr',
    port: 587,
    security: 'starttls',
    authentication: 'none',
    email: 'envoi@exemple.fr',
    senderName: 'Envoi',
    username: '',
    usage: 'custom',
    verifyCertificate: true,
    signature: '',
    searchText: title.toLowerCase(),
    passwordCiphertext: null,
    rateLimitPerMinute: null,
  });
}

forEachStore(t, 'the health-check store', async (t, store) => {
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : os.tmpdir();
  const app = await buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb }), { logger: false });
  t.teardown(() => app.close());
  const checks = app.stores.healthChecks;
  const ids: number[] = [];
  for (let i = 0; i < 1200; i++) ids.push(await addServer(app.stores, `Serveur ${i}`));
  const inactive = ids[5]!;
  await app.stores.servers.update(inactive, { active: false });

  const base = Date.parse('2030-01-01T00:00:00Z');
  t.equal(await checks.scheduleMissing((id) => new Date(base + id)), 1199, 'every active server, in more than one batch');
  t.equal(await checks.scheduleMissing(() => new Date(base)), 0, 'a second time: nothing missing');
  t.equal(await checks.find(inactive), null, 'no row for a deactivated server');
  t.same((await checks.find(ids[0]!))?.dueAt, new Date(base + ids[0]!));

  t.same(await checks.claim('a', new Date(base - 1), new Date(base + 60_000), 10), [], 'nothing due yet');
  const first = await checks.claim('a', new Date(base + ids[2]!), new Date(base + 60_000), 10);
  t.same(first, [ids[0], ids[1], ids[2]], 'the due ones, soonest first');
  t.same(await checks.claim('b', new Date(base + ids[3]!), new Date(base + 60_000), 10), [ids[3]], 'a leased check is not taken again');
  t.same(await checks.claim('b', new Date(base + 60_000), new Date(base + 120_000), 2), [ids[0], ids[1]], 'an expired lease is taken over, at most `limit` at once');

  await checks.release(ids[2]!, 'someone-else', new Date(base + 999_999));
  t.same((await checks.find(ids[2]!))?.dueAt, new Date(base + ids[2]!), 'only the lease holder gives it back');
  await checks.release(ids[2]!, 'a', new Date(base + 999_999));
  t.same((await checks.find(ids[2]!))?.dueAt, new Date(base + 999_999));

  const id = ids[0]!;
  const at = new Date(base + 1000);
  const cert = { subject: 'CN=mail.exemple.fr', issuer: 'CN=R11, O=Let’s Encrypt', validTo: new Date(base + 86_400_000), fingerprint: 'AB:CD' };
  await checks.complete(id, { at, ok: true, nextDueAt: new Date(base + 900_000), certificate: cert });
  let kept = (await checks.certificatesOf([id, ids[1]!])).get(id)!;
  t.match(kept, { ...cert, seenAt: at, previousIssuer: null, issuerChangedAt: null });
  t.equal((await checks.certificatesOf([id, ids[1]!])).size, 1, 'a server with no certificate seen is absent');
  t.same(await checks.claim('c', new Date(base + 899_999), new Date(base + 2_000_000), 1), [ids[1]], 'completed: its lease freed, due at the next slot');

  await checks.complete(id, { at: new Date(base + 2000), ok: false, nextDueAt: new Date(base + 1_800_000), certificate: null });
  kept = (await checks.certificatesOf([id])).get(id)!;
  t.equal(kept.issuer, cert.issuer, 'a check that saw no certificate keeps the last one');
  t.equal((await checks.find(id))?.lastOk, false);

  const changedAt = new Date(base + 3000);
  await checks.complete(id, { at: changedAt, ok: true, nextDueAt: new Date(base + 2_700_000), certificate: { ...cert, issuer: 'CN=Other CA' } });
  kept = (await checks.certificatesOf([id])).get(id)!;
  t.match(kept, { issuer: 'CN=Other CA', previousIssuer: cert.issuer, issuerChangedAt: changedAt });
  await checks.complete(id, { at: new Date(base + 4000), ok: true, nextDueAt: new Date(base + 3_600_000), certificate: { ...cert, issuer: 'CN=Other CA' } });
  kept = (await checks.certificatesOf([id])).get(id)!;
  t.match(kept, { previousIssuer: cert.issuer, issuerChangedAt: changedAt }, 'the same issuer again: the change is still the one remembered');

  await checks.markDown(id, new Date(base), '{"key":"diagnosis.connectionRefused"}', new Date(base + 60_000));
  let row = (await app.stores.servers.find(id))!;
  t.match(row, { downUntil: new Date(base + 60_000), consecutiveFailures: 1, lastError: '{"key":"diagnosis.connectionRefused"}' });
  await checks.markUp(id);
  row = (await app.stores.servers.find(id))!;
  t.match(row, { downUntil: null, consecutiveFailures: 0 });

  await app.stores.servers.delete(id);
  t.equal(await checks.find(id), null, 'gone with its server');
});
