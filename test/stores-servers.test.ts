import t, { type Test } from 'tap';
import { databaseFrom } from '../src/config.js';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { countSecretsByKey, rotateSecrets } from '../src/crypto/stored-secrets.js';
import { UniqueViolation } from '../src/db/errors.js';
import { openStores } from '../src/db/open.js';
import { createConfirmationRepository } from '../src/confirmation/repository.js';
import { createSmtpServerRepository, DuplicateTitleError, fillMissingSortKeys, StaleServerError } from '../src/smtp-servers/repository.js';
import { validateServerForm, type ServerInput } from '../src/smtp-servers/validation.js';
import { validServer } from './helper.js';
import { forEachStore, sessionWaitsForLock, type TestStore } from './stores.js';

const box = new SecretBox(keyFromSecret('stores-servers-secret'));
const alice = { userId: null, name: 'Alice Martin', ip: '192.0.2.7' };

async function servicesFor(t: Test, store: TestStore, secrets = box) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return { stores, servers: createSmtpServerRepository(stores, secrets) };
}

function input(fields: Partial<Record<keyof typeof validServer | 'confirmCombination', string | string[]>> = {}, storedPassword: string | null = null): ServerInput {
  const result = validateServerForm({ ...validServer, ...fields }, { departmentCodes: ['achat', 'vente', 'production'], storedPassword: storedPassword ? { host: validServer.host, port: 587, security: 'starttls', username: validServer.username, verifyCertificate: true } : null });
  if (!result.ok) throw new Error(`invalid server: ${JSON.stringify(result.errors)}`);
  return result.value;
}

async function refusedWith(promise: Promise<unknown>, kind: abstract new (...args: never[]) => Error): Promise<boolean> {
  return promise.then(
    () => false,
    (err: unknown) => err instanceof kind,
  );
}

await forEachStore(t, 'servers: create, read, update, delete, each with its audit entry', async (t, store) => {
  const { stores, servers } = await servicesFor(t, store);
  t.same((await stores.departments.list()).map((d) => d.code), ['achat', 'vente', 'production'], 'departments in their order');

  const created = await servers.createServer(input({ departments: ['production', 'achat'] }), alice);
  t.match(created, { title: 'Vente principale', port: 587, usage: 'custom', hasPassword: true, passwordUnreadable: false, version: 1, confirmationStatus: 'unconfirmed', verifyCertificate: true });
  t.same(created.departments, [{ code: 'achat', name: 'Achat' }, { code: 'production', name: 'Production' }], 'departments in display order');
  t.notOk('passwordCiphertext' in created, 'a view never carries the envelope');
  t.equal(await servers.revealPassword(created.id), validServer.password);
  const stored = await stores.servers.find(created.id);
  t.match(stored!.passwordCiphertext, /^v1:/, 'the store keeps only the envelope');
  t.notMatch(stored!.passwordCiphertext!, validServer.password);

  const { server, changes } = (await servers.updateServer(created.id, input({ senderName: 'Ventes', usage: 'default', password: '' }, validServer.password), alice))!;
  t.equal(server.version, 2, 'an update moves the version on');
  t.same(server.departments, [], 'a server for every department lists none');
  t.same(changes, { senderName: ['Service Vente', 'Ventes'], usage: ['custom', 'default'], departments: ['achat,production', ''] });
  t.equal(await servers.revealPassword(created.id), validServer.password, 'a blank password keeps the stored one');

  const cleared = (await servers.updateServer(created.id, input({ authentication: 'none', username: '', password: '' }), alice))!;
  t.same(cleared.changes.password, ['modifié', 'effacé'], 'the audit says the password went, never what it was');
  t.equal(await servers.revealPassword(created.id), null);

  t.match(await servers.deleteServer(created.id, alice), { id: created.id, title: 'Vente principale' });
  t.equal(await servers.findServer(created.id), null);
  t.equal(await servers.deleteServer(created.id, alice), null, 'a second delete finds nothing');
  t.equal(await servers.updateServer(created.id, input(), alice), null, 'nor does an edit of a deleted server');
  const audit = (await stores.audit.list()).rows.map((r) => [r.action, r.summary]).reverse();
  t.same(audit, [
    ['server.create', 'Vente principale'],
    ['server.update', 'Vente principale'],
    ['server.update', 'Vente principale'],
    ['server.delete', 'Vente principale'],
  ]);
  t.notMatch(JSON.stringify(await stores.audit.list()), validServer.password, 'no password in the audit trail');
});

await forEachStore(t, 'servers: a title is unique whatever its case, on create and on edit', async (t, store) => {
  const { stores, servers } = await servicesFor(t, store);
  const first = await servers.createServer(input({ title: 'Été Vente' }), alice);
  const other = await servers.createServer(input({ title: 'Achats' }), alice);
  t.ok(await refusedWith(servers.createServer(input({ title: 'ÉTÉ VENTE' }), alice), DuplicateTitleError), 'a create');
  t.ok(await refusedWith(servers.updateServer(other.id, input({ title: 'été vente' }), alice), DuplicateTitleError), 'an edit');
  t.equal(await servers.titleTaken('ÉTÉ vente'), true);
  t.equal(await servers.titleTaken('Été Vente', first.id), false, 'its own title is not taken from itself');
  // Past the service's check (another instance between the check and the write): the index still refuses it.
  const row = { ...(await stores.servers.find(first.id))!, titleKey: 'été vente', titleSort: 'ete vente', searchText: '' };
  const { id: _id, version: _v, createdAt: _c, updatedAt: _u, departments: _d, ...columns } = row;
  t.ok(await refusedWith(stores.servers.insert(columns), UniqueViolation), 'the store maps its driver’s unique violation');
  t.equal((await stores.audit.list({ action: 'server.create' })).total, 2, 'a refused create records nothing');
  t.equal((await servers.findServer(other.id))!.version, 1, 'a refused edit changes nothing');
});

await forEachStore(t, 'servers: the row version refuses an edit from an older reading, and a test of older settings', async (t, store) => {
  const { stores, servers } = await servicesFor(t, store);
  const server = await servers.createServer(input(), alice);
  await servers.updateServer(server.id, input({ senderName: 'Ventes' }), alice, { expectedVersion: 1 });
  const stale = await servers.updateServer(server.id, input({ senderName: 'Autre' }), alice, { expectedVersion: 1 }).catch((err: unknown) => err);
  t.ok(stale instanceof StaleServerError, 'an edit filled from version 1 is refused at version 2');
  t.equal((stale as StaleServerError).current.senderName, 'Ventes', 'and says what the server now is');
  t.equal((await servers.findServer(server.id))!.senderName, 'Ventes', 'nothing changed');
  t.equal((await stores.audit.list({ action: 'server.update' })).total, 1);

  t.equal(await stores.servers.update(server.id, { signature: 'x' }, 1), 'stale', 'the store compares and sets');
  t.equal(await stores.servers.update(server.id, { signature: 'x' }, 2), 'updated');
  t.equal(await stores.servers.update(server.id + 50, { signature: 'x' }), 'missing');
  t.equal((await stores.servers.find(server.id))!.version, 3);

  const result = { at: new Date(), ok: true, report: '{}' };
  t.equal(await stores.probes.recordOnServer(server.id, result, 2), false, 'a test of version 2 is not stamped on version 3');
  t.equal(await stores.probes.recordOnServer(server.id, result, 3), true);
  t.equal((await stores.servers.find(server.id))!.version, 3, 'a test result is not an edit');
});

await forEachStore(t, 'servers: a change of path resets the confirmation and voids its open link', async (t, store) => {
  const { stores, servers } = await servicesFor(t, store);
  const confirmations = createConfirmationRepository(stores);
  const server = await servers.createServer(input(), alice);
  const issued = await confirmations.issue(server.id, { ttlHours: 48 });
  if (issued.kind !== 'issued') throw new Error('not issued');
  await confirmations.recordSent(server.id, issued.tokenId, { sentAt: new Date(), expiresAt: issued.expiresAt, summary: 'envoyé' }, alice);
  await servers.updateServer(server.id, input({ signature: 'Bonjour', password: '' }, validServer.password), alice);
  t.equal((await servers.findServer(server.id))!.confirmationStatus, 'pending', 'a new signature keeps the link');
  await servers.updateServer(server.id, input({ host: 'smtp2.exemple.fr', signature: 'Bonjour' }), alice);
  t.equal((await servers.findServer(server.id))!.confirmationStatus, 'unconfirmed', 'a new host does not');
  t.ok((await stores.confirmations.find(issued.tokenId))!.revokedAt, 'the link sent for the old host is void');
  t.match(await confirmations.inspect(issued.token), { kind: 'revoked' });
});

await forEachStore(t, 'servers: a copy takes the source’s password, and its own title and departments', async (t, store) => {
  const { stores, servers } = await servicesFor(t, store);
  const source = await servers.createServer(input({ departments: ['vente'] }), alice);
  const copy = await servers.createServer(input({ title: 'Vente principale (copie)', departments: ['achat'], password: '' }, validServer.password), alice, { copyOf: source.id });
  t.equal(await servers.revealPassword(copy.id), validServer.password, 'the blank password is the source’s');
  t.same(copy.departments, [{ code: 'achat', name: 'Achat' }]);
  t.same((await servers.findServer(source.id))!.departments, [{ code: 'vente', name: 'Vente' }], 'the source keeps its own');
  t.same((await stores.audit.list({ action: 'server.duplicate' })).rows.map((r) => [r.targetId, r.summary]), [[String(copy.id), 'Vente principale → Vente principale (copie)']]);
  await servers.deleteServer(source.id, alice);
  t.equal(await servers.revealPassword(copy.id), validServer.password, 'the copy holds its own envelope');
});

await forEachStore(t, 'servers: passwords under an old key are counted, flagged and rotated; sort keys filled', async (t, store) => {
  const old = new SecretBox(keyFromSecret('the-old-secret'));
  const { stores, servers } = await servicesFor(t, store, old);
  const under = await servers.createServer(input({ title: 'Ancien' }), alice);
  await servers.createServer(input({ title: 'Sans', authentication: 'none', username: '', password: '' }), alice);

  const lost = createSmtpServerRepository(stores, box);
  t.match(await lost.findServer(under.id), { hasPassword: true, passwordUnreadable: true }, 'no configured key opens it');
  t.same(await countSecretsByKey(stores, box), { underOldKey: 1, undecryptable: 1 });
  t.same(await rotateSecrets(stores, box, alice), { rewritten: 0, alreadyCurrent: 0, needOldKey: 1 }, 'without the old key nothing is rewritten');

  const ring = new SecretBox(keyFromSecret('stores-servers-secret'), [keyFromSecret('the-old-secret')]);
  t.same(await countSecretsByKey(stores, ring), { underOldKey: 1, undecryptable: 0 });
  t.same(await rotateSecrets(stores, ring, alice), { rewritten: 1, alreadyCurrent: 0, needOldKey: 0 });
  t.same(await countSecretsByKey(stores, box), { underOldKey: 0, undecryptable: 0 }, 'the current key alone opens everything');
  t.equal(await lost.revealPassword(under.id), validServer.password);
  t.equal((await lost.findServer(under.id))!.version, 1, 'a rotation is not an edit');
  t.equal((await stores.audit.list({ action: 'secrets.rotate' })).total, 1);

  await stores.servers.setSortKey(under.id, '');
  t.same(await stores.servers.missingSortKeys(), [{ id: under.id, title: 'Ancien' }]);
  await fillMissingSortKeys(stores);
  t.same(await stores.servers.missingSortKeys(), []);
});

await forEachStore(t, 'servers: two instances on one database: an edit from an older reading, and one of a server deleted by the other', async (t, store) => {
  const one = await servicesFor(t, store);
  const other = await servicesFor(t, store);
  const server = await one.servers.createServer(input(), alice);
  t.equal((await other.servers.findServer(server.id))!.title, 'Vente principale', 'a write on one is read at once on the other');
  await other.servers.updateServer(server.id, input({ senderName: 'Autre instance', password: '' }, validServer.password), alice, { expectedVersion: 1 });
  t.ok(await refusedWith(one.servers.updateServer(server.id, input({ senderName: 'Ici' }), alice, { expectedVersion: 1 }), StaleServerError), 'the older reading is refused');
  await other.servers.deleteServer(server.id, alice);
  t.equal(await one.servers.updateServer(server.id, input(), alice, { expectedVersion: 2 }), null, 'an edit of the deleted server finds nothing, and creates nothing');
  t.equal(await one.servers.findServer(server.id), null);
});

await forEachStore(t, 'servers: an edit racing another edit in progress does not overwrite it', async (t, store) => {
  if (store.kind !== 'postgres') return t.pass('one SQLite connection runs transactions one after another');
  const one = await servicesFor(t, store);
  const other = await servicesFor(t, store);
  const server = await one.servers.createServer(input(), alice);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const inProgress = new Promise<void>((resolve) => (started = resolve));
  // An edit elsewhere that has written the row and not committed yet.
  const editing = other.stores.transaction(async (tx) => {
    await tx.servers.update(server.id, { senderName: 'En cours' });
    started();
    await held;
  });
  await inProgress;
  // Read before the other commits (version 1), then written after it: the version has moved on.
  const racing = one.servers.updateServer(server.id, input({ senderName: 'Course', password: '' }, validServer.password), alice);
  t.ok(await sessionWaitsForLock(store.url), 'the second edit has read the row and waits for the first');
  release();
  await editing;
  t.ok(await refusedWith(racing, StaleServerError), 'the second edit is refused rather than undoing the first');
  t.match(await one.servers.findServer(server.id), { senderName: 'En cours', version: 2 });
});
