import t, { type Test } from 'tap';
import type { Actor } from '../src/audit/store.js';
import { databaseFrom } from '../src/config.js';
import { createConfirmationRepository, type IssueResult } from '../src/confirmation/repository.js';
import { hashConfirmationToken } from '../src/confirmation/token.js';
import { openStores } from '../src/db/open.js';
import type { Diagnosis } from '../src/smtp/report.js';
import { serverRows } from './server-rows.js';
import { forEachStore, sessionWaitsForLock, type TestStore } from './stores.js';

async function storesFor(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return { stores, confirmations: createConfirmationRepository(stores) };
}

const admin: Actor = { userId: null, name: 'Alice Martin', ip: '192.0.2.7' };
const visitor: Actor = { userId: null, name: 'anonyme', ip: '198.51.100.4' };
const hour = 3600_000;

function issuedToken(result: IssueResult) {
  if (result.kind !== 'issued') throw new Error(`expected a link, got ${result.kind}`);
  return result;
}

await forEachStore(t, 'a link: issued, seen without changing anything, used once', async (t, store) => {
  const { stores, confirmations } = await storesFor(t, store);
  const id = await (await serverRows(t, store, stores)).insert('Vente', 'ventes@exemple.fr');
  const now = new Date();
  const first = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
  const link = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
  t.equal(link.expiresAt.getTime(), now.getTime() + 48 * hour);

  const tokens = await stores.confirmations.tokensOf(id);
  t.same(tokens.map((r) => r.tokenHash), [hashConfirmationToken(first.token), hashConfirmationToken(link.token)], 'only the hashes are kept');
  t.same(tokens.map((r) => r.revokedAt?.getTime() ?? null), [now.getTime(), null], 'a new link voids the one before');
  t.match(await confirmations.inspect(first.token), { kind: 'revoked', server: { id, title: 'Vente' } });

  await confirmations.recordSent(id, link.tokenId, { sentAt: now, expiresAt: link.expiresAt, summary: 'Vente → ventes@exemple.fr' }, admin);
  t.same(await stores.confirmations.confirmationOf(id), { status: 'pending', sentAt: now, expiresAt: link.expiresAt, confirmedAt: null, error: null });
  t.match(await confirmations.inspect(link.token), { kind: 'valid', server: { id, email: 'ventes@exemple.fr', host: 'smtp.exemple.fr', port: 587 } });
  t.equal((await stores.confirmations.confirmationOf(id))!.status, 'pending', 'inspecting confirms nothing');

  const at = new Date(now.getTime() + 1000);
  t.match(await confirmations.confirm(link.token, visitor, at), { kind: 'confirmed', confirmedAt: at });
  t.same(await stores.confirmations.confirmationOf(id), { status: 'confirmed', sentAt: now, expiresAt: null, confirmedAt: at, error: null }, 'the send time is kept');
  t.match(await confirmations.confirm(link.token, visitor, new Date(at.getTime() + 1000)), { kind: 'used', usedAt: at }, 'a second use changes nothing');
  t.equal((await stores.confirmations.confirmationOf(id))!.confirmedAt!.getTime(), at.getTime());
  t.match(
    (await stores.audit.list()).rows.map((r) => [r.action, r.actor, r.summary]),
    [
      ['server.confirm', 'anonyme', 'Vente (ventes@exemple.fr)'],
      ['server.confirmation_send', 'Alice Martin', 'Vente → ventes@exemple.fr'],
    ],
  );

  for (const unknown of ['A'.repeat(43), 'not-a-token', `${link.token}x`]) {
    t.same(await confirmations.inspect(unknown), { kind: 'unknown' }, unknown);
    t.same(await confirmations.confirm(unknown, visitor), { kind: 'unknown' });
  }
  t.same(await confirmations.issue(id + 100, { ttlHours: 1 }), { kind: 'notFound' });
});

await forEachStore(t, 'expired and revoked links confirm nothing', async (t, store) => {
  const { stores, confirmations } = await storesFor(t, store);
  const id = await (await serverRows(t, store, stores)).insert('Vente', 'ventes@exemple.fr');
  const now = new Date();
  const link = issuedToken(await confirmations.issue(id, { ttlHours: 1, now }));
  const later = new Date(now.getTime() + hour);
  t.match(await confirmations.inspect(link.token, later), { kind: 'expired', expiresAt: link.expiresAt }, 'expired at the very hour');
  t.match(await confirmations.confirm(link.token, visitor, later), { kind: 'expired' });
  t.equal((await stores.confirmations.tokensOf(id))[0]!.usedAt, null);

  // An edit of the path voids the open links, as the servers' edit does.
  t.equal(await stores.confirmations.revokeOpen(id, now), 1);
  t.match(await confirmations.confirm(link.token, visitor, now), { kind: 'revoked' });
  t.equal((await stores.confirmations.confirmationOf(id))!.status, 'unconfirmed');
  t.equal((await stores.audit.list({ action: 'server.confirm' })).total, 0);
});

await forEachStore(t, 'a send outrun by an edit leaves the server as the edit left it; a failed send says why', async (t, store) => {
  const { stores, confirmations } = await storesFor(t, store);
  const rows = await serverRows(t, store, stores);
  const id = await rows.insert('Vente', 'ventes@exemple.fr');
  const now = new Date();
  const link = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
  await stores.confirmations.revokeOpen(id, now);
  await confirmations.recordSent(id, link.tokenId, { sentAt: now, expiresAt: link.expiresAt, summary: 'envoyé' }, admin);
  t.equal((await stores.confirmations.confirmationOf(id))!.status, 'unconfirmed', 'not pending on a link the edit voided');
  t.equal((await stores.audit.list({ action: 'server.confirmation_send' })).total, 1, 'the send is in the audit trail all the same');

  const diagnosis: Diagnosis = { kind: 'authFailed', key: 'diagnosis.authFailed', params: { user: 'ventes@exemple.fr' }, reply: '535 5.7.8 refused' };
  const failing = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
  await confirmations.recordFailed(id, failing.tokenId, { at: now, diagnosis, summary: 'Vente : authFailed' }, admin);
  const failed = (await stores.confirmations.confirmationOf(id))!;
  t.match(failed, { status: 'failed', sentAt: now, expiresAt: null, confirmedAt: null });
  t.same(JSON.parse(failed.error!), { key: 'diagnosis.authFailed', params: { user: 'ventes@exemple.fr' }, reply: '535 5.7.8 refused' });
  t.equal((await stores.confirmations.find(failing.tokenId))!.revokedAt!.getTime(), now.getTime(), 'the link of a message that never left is void');
  t.match(await confirmations.inspect(failing.token), { kind: 'revoked' });

  const late = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
  await stores.confirmations.revokeOpen(id, now);
  await stores.confirmations.setServerConfirmation(id, { status: 'unconfirmed', sentAt: null, expiresAt: null, confirmedAt: null, error: null });
  await confirmations.recordFailed(id, late.tokenId, { at: now, diagnosis, summary: 'Vente : authFailed' }, admin);
  t.equal((await stores.confirmations.confirmationOf(id))!.status, 'unconfirmed', 'a failure after an edit does not mark the edited server');

  if (store.kind === 'postgres') {
    // An edit in progress elsewhere while the message leaves, or while the link is followed: each waits for the edit and then sees the link void.
    const sending = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
    let edit = await rows.editInProgress(id, 'smtp2.exemple.fr');
    const sent = confirmations.recordSent(id, sending.tokenId, { sentAt: now, expiresAt: sending.expiresAt, summary: 'envoyé' }, admin);
    t.ok(await sessionWaitsForLock(store.url), 'the send waits for the edit');
    await edit.commit();
    await sent;
    t.equal((await stores.confirmations.confirmationOf(id))!.status, 'unconfirmed', 'the send did not mark the edited server pending');

    const following = issuedToken(await confirmations.issue(id, { ttlHours: 48, now }));
    await confirmations.recordSent(id, following.tokenId, { sentAt: now, expiresAt: following.expiresAt, summary: 'envoyé' }, admin);
    edit = await rows.editInProgress(id, 'smtp3.exemple.fr');
    const confirming = confirmations.confirm(following.token, visitor);
    t.ok(await sessionWaitsForLock(store.url), 'the confirmation waits for the edit');
    await edit.commit();
    t.match(await confirming, { kind: 'revoked' });
    t.equal((await stores.confirmations.confirmationOf(id))!.status, 'unconfirmed', 'nor confirmed it');
    t.equal((await stores.audit.list({ action: 'server.confirm' })).total, 0);
  }
});

await forEachStore(t, 'the throttle: exactly 5 links an hour per server and per address, however many ask at once', async (t, store) => {
  const { stores, confirmations } = await storesFor(t, store);
  const rows = await serverRows(t, store, stores);
  const id = await rows.insert('Vente', 'ventes@exemple.fr');
  const now = new Date();
  const results = await Promise.all(Array.from({ length: 9 }, () => confirmations.issue(id, { ttlHours: 48, now })));
  t.equal(results.filter((r) => r.kind === 'issued').length, 5, 'five links');
  const refused = results.filter((r) => r.kind === 'throttled');
  t.equal(refused.length, 4);
  t.match(refused[0], { scope: 'server', limit: 5, retryAt: new Date(now.getTime() + hour) });
  t.equal((await stores.confirmations.tokensOf(id)).length, 5, 'a refused request leaves no link');
  t.equal((await stores.confirmations.tokensOf(id)).filter((r) => r.revokedAt === null).length, 1, 'only the latest is alive');
  t.equal(await confirmations.recentSends(id, now), 5);
  t.equal(await confirmations.recentSends(id, new Date(now.getTime() + hour)), 0);
  t.equal((await confirmations.issue(id, { ttlHours: 48, now: new Date(now.getTime() + hour) })).kind, 'issued', 'an hour later it may send again');

  // Two servers with one address (whatever its case): five mails to it in all.
  const a = await rows.insert('Achats', 'achats@exemple.fr');
  const b = await rows.insert('Achats (copie)', 'ACHATS@exemple.fr');
  const both = await Promise.all(Array.from({ length: 8 }, (_, i) => confirmations.issue(i % 2 ? a : b, { ttlHours: 48, now })));
  t.equal(both.filter((r) => r.kind === 'issued').length, 5);
  t.ok(both.some((r) => r.kind === 'throttled' && r.scope === 'recipient'), 'refused for the address');
  t.equal((await stores.confirmations.tokensOf(a)).length + (await stores.confirmations.tokensOf(b)).length, 5);

  if (store.kind === 'postgres') {
    // Two instances on one database: their requests count together.
    const other = await storesFor(t, store);
    const c = await rows.insert('Compta', 'compta@exemple.fr');
    const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? confirmations : other.confirmations).issue(c, { ttlHours: 48, now })));
    t.equal(racing.filter((r) => r.kind === 'issued').length, 5, 'five links across two instances');
    t.equal((await other.stores.confirmations.tokensOf(c)).filter((r) => r.revokedAt === null).length, 1);
  }
});

await forEachStore(t, 'two confirmations at once: one confirms, the other finds the link used', async (t, store) => {
  const { stores, confirmations } = await storesFor(t, store);
  const id = await (await serverRows(t, store, stores)).insert('Vente', 'ventes@exemple.fr');
  const instances = [confirmations, store.kind === 'postgres' ? (await storesFor(t, store)).confirmations : confirmations];
  for (const round of [0, 1]) {
    const link = issuedToken(await confirmations.issue(id, { ttlHours: 48 }));
    const states = await Promise.all([instances[0]!.confirm(link.token, visitor), instances[round]!.confirm(link.token, visitor)]);
    t.same(states.map((s) => s.kind).sort(), ['confirmed', 'used'], round ? 'two instances' : 'one instance');
  }
  t.equal((await stores.audit.list({ action: 'server.confirm' })).total, 2, 'one audit entry per link');
  t.equal((await stores.confirmations.tokensOf(id)).filter((r) => r.usedAt !== null).length, 2);
});
