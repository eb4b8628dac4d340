// The outbox's service on both stores: a message stored before any attempt, found, listed, retried, cancelled.
import t from 'tap';
import { auditTrail, createAccount } from './helper.js';
import { apiOrigin, message, outboxApp } from './outbox-helpers.js';
import { forEachStore } from './stores.js';
import { newPublicId } from '../src/outbox/service.js';


await forEachStore(t, 'accept stores the message, find and list read it back', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const attachment = { filename: 'devis.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 devis') };
  const outcome = await app.outbox.accept(message({ cc: ['compta@exemple.fr'], bcc: ['archive@exemple.fr'], replyTo: 'vente@exemple.fr', attachments: [attachment] }), { origin: apiOrigin });
  t.equal(outcome.kind, 'accepted');
  if (outcome.kind !== 'accepted') return;
  const { message: accepted } = outcome;
  t.equal(accepted.status, 'queued');
  t.match(accepted.messageId, /^<[0-9a-f-]{36}@relais\.test>$/, 'a Message-ID fixed at acceptance, in Relais’s domain');
  t.match(accepted.id, /^[A-Za-z0-9_-]{20}$/);

  const found = await app.outbox.find(accepted.id);
  t.same(
    { status: found?.status, department: found?.department, to: found?.to, cc: found?.cc, bcc: found?.bcc, replyTo: found?.replyTo, subject: found?.subject, attempts: found?.attempts },
    { status: 'queued', department: 'vente', to: ['client@exemple.fr'], cc: ['compta@exemple.fr'], bcc: ['archive@exemple.fr'], replyTo: 'vente@exemple.fr', subject: 'Devis 2025-001', attempts: [] },
  );
  t.equal(found?.messageId, accepted.messageId);
  const content = await app.stores.outbox.contentOf((await app.stores.outbox.claim('test', new Date(), new Date(Date.now() + 1000), 1))[0]!.id);
  t.same(content.attachments.map((a) => [a.filename, a.contentType, a.content.toString()]), [['devis.pdf', 'application/pdf', '%PDF-1.4 devis']], 'the attachment kept, byte for byte');
  t.equal(content.text, 'Bonjour, voici votre devis.');
  t.equal(await app.outbox.find('nope'), null);
});

await forEachStore(t, 'an unknown department is refused with its code', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  t.same(await app.outbox.accept(message({ department: 'marketing' }), { origin: apiOrigin }), { kind: 'unknownDepartment', code: 'marketing' });
  t.equal((await app.outbox.list({})).total, 0, 'nothing stored');
});

await forEachStore(t, 'the Idempotency-Key returns the first answer, refuses another body, and is per origin', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const first = await app.outbox.accept(message(), { origin: apiOrigin, idempotencyKey: 'po-42' });
  const again = await app.outbox.accept(message(), { origin: apiOrigin, idempotencyKey: 'po-42' });
  t.equal(first.kind, 'accepted');
  t.equal(again.kind, 'replayed');
  if (first.kind !== 'accepted' || again.kind !== 'replayed') return;
  t.equal(again.message.id, first.message.id, 'the same message');
  t.same(await app.outbox.accept(message({ subject: 'Autre' }), { origin: apiOrigin, idempotencyKey: 'po-42' }), { kind: 'idempotencyConflict' });
  const otherToken = await app.outbox.accept(message(), { origin: { ...apiOrigin, tokenId: 8 }, idempotencyKey: 'po-42' });
  t.equal(otherToken.kind, 'accepted', 'another token’s key is its own');
  const both = await Promise.all([1, 2, 3].map(() => app.outbox.accept(message({ subject: 'Course' }), { origin: apiOrigin, idempotencyKey: 'race' })));
  t.equal(new Set(both.map((o) => (o.kind === 'accepted' || o.kind === 'replayed' ? o.message.id : o.kind))).size, 1, 'three calls at once: one message');
  t.equal((await app.outbox.list({})).total, 3);
});

await forEachStore(t, 'list filters by status, department, server, date and words, newest first, paginated', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const ids: string[] = [];
  for (let i = 1; i <= 7; i++) {
    const outcome = await app.outbox.accept(message({ department: i % 2 ? 'vente' : 'achat', subject: `Facture n°${i} Élodie`, to: [`client${i}@exemple.fr`] }), { origin: apiOrigin });
    if (outcome.kind === 'accepted') ids.push(outcome.message.id);
  }
  const page1 = await app.outbox.list({ perPage: 3 });
  t.same([page1.total, page1.pages, page1.page, page1.rows.length], [7, 3, 1, 3]);
  t.same(page1.rows.map((r) => r.id), [ids[6], ids[5], ids[4]], 'newest first');
  t.same((await app.outbox.list({ perPage: 3, page: 3 })).rows.map((r) => r.id), [ids[0]]);
  t.equal((await app.outbox.list({ department: 'achat' })).total, 3);
  t.same((await app.outbox.list({ q: 'elodie facture n°3' })).total, 0, 'words as one phrase');
  t.same((await app.outbox.list({ q: 'FACTURE N°3' })).rows.map((r) => r.id), [ids[2]], 'case and accents ignored');
  t.same((await app.outbox.list({ q: 'client5@' })).rows.map((r) => r.id), [ids[4]], 'a recipient');
  t.equal((await app.outbox.list({ q: '100%' })).total, 0, 'a % is a character');
  t.equal((await app.outbox.list({ status: 'sent' })).total, 0);
  t.equal((await app.outbox.list({ status: 'queued' })).total, 7);
  t.equal((await app.outbox.list({ since: new Date(Date.now() + 60_000) })).total, 0);
  t.equal((await app.outbox.list({ serverId: 1 })).total, 0);
});

await forEachStore(t, 'cancel a waiting message, retry a failed one; both audited', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const account = await createAccount(app, 'admin', { displayName: 'Admin' });
  const admin = { userId: account.id, name: 'Admin' };
  const a = await app.outbox.accept(message({ subject: 'À annuler' }), { origin: apiOrigin });
  const b = await app.outbox.accept(message({ subject: 'À relancer' }), { origin: apiOrigin });
  if (a.kind !== 'accepted' || b.kind !== 'accepted') return t.fail('not accepted');
  t.equal(await app.outbox.retry(a.message.id, admin), false, 'a queued message is not failed');
  t.equal(await app.outbox.cancel(a.message.id, admin), true);
  t.equal((await app.outbox.find(a.message.id))?.status, 'cancelled');
  t.equal(await app.outbox.cancel(a.message.id, admin), false, 'no longer waiting');

  // Failed by a worker, as a 550 would.
  const [claimed] = await app.stores.outbox.claim('w1', new Date(), new Date(Date.now() + 5000), 5);
  t.equal(claimed?.publicId, b.message.id);
  await app.stores.transaction((tx) =>
    tx.outbox.settle(claimed!.id, 'w1', { status: 'failed', dueAt: null, attemptCount: 1, roundCount: 0, triedServerIds: [], stickyServerId: null, pendingRecipients: null, refusedRecipients: null, lastServerId: null, lastServerTitle: 'X', lastReply: '550 no such user', sentAt: null, attempts: [] }, new Date()),
  );
  t.equal(await app.outbox.cancel(b.message.id, admin), false, 'a failed message is no longer waiting');
  t.equal(await app.outbox.retry(b.message.id, admin), true);
  const retried = await app.outbox.find(b.message.id);
  t.equal(retried?.status, 'queued');
  t.ok(retried?.nextAttemptAt, 'due again');
  t.same((await auditTrail(app)).filter((e) => e.action.startsWith('message.')).map((e) => [e.action, e.targetId, e.summary, e.actor]), [
    ['message.cancel', a.message.id, 'À annuler', 'Admin'],
    ['message.retry', b.message.id, 'À relancer', 'Admin'],
  ]);
});

await forEachStore(t, 'retention purges bodies and attachments of messages done, the log line stays; shutdown hands leases back', async (t, store) => {
  const app = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const old = await app.outbox.accept(message({ attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('x') }] }), { origin: apiOrigin });
  const waiting = await app.outbox.accept(message({ subject: 'En attente' }), { origin: apiOrigin });
  if (old.kind !== 'accepted' || waiting.kind !== 'accepted') return t.fail('not accepted');
  const [claimed] = await app.stores.outbox.claim('w1', new Date(), new Date(Date.now() + 60_000), 1);
  await app.stores.transaction((tx) =>
    tx.outbox.settle(claimed!.id, 'w1', { status: 'sent', dueAt: null, attemptCount: 1, roundCount: 0, triedServerIds: [], stickyServerId: null, pendingRecipients: null, refusedRecipients: null, lastServerId: null, lastServerTitle: 'X', lastReply: '250 ok', sentAt: new Date(), attempts: [] }, new Date()),
  );
  const purged = await app.stores.transaction((tx) => tx.outbox.purgeBodies(new Date(Date.now() + 1000), new Date()));
  t.equal(purged, 1, 'only the message done');
  const content = await app.stores.outbox.contentOf(claimed!.id);
  t.same([content.text, content.attachments, content.purged], [null, [], true]);
  t.equal((await app.outbox.find(old.message.id))?.status, 'sent', 'the log line stays');
  t.equal(await app.outbox.retry(old.message.id, { userId: 0, name: 'x' }), false);

  const [held] = await app.stores.outbox.claim('w2', new Date(), new Date(Date.now() + 60_000), 1);
  t.equal(held?.publicId, waiting.message.id);
  t.equal((await app.outbox.find(waiting.message.id))?.status, 'sending');
  t.equal(await app.stores.outbox.handBack('w2', new Date()), 1);
  t.equal((await app.outbox.find(waiting.message.id))?.status, 'queued', 'due again for another instance');
  t.equal(await app.stores.outbox.settle(held!.id, 'w2', { status: 'sent', dueAt: null, attemptCount: 1, roundCount: 0, triedServerIds: [], stickyServerId: null, pendingRecipients: null, refusedRecipients: null, lastServerId: null, lastServerTitle: null, lastReply: null, sentAt: new Date(), attempts: [] }, new Date()), false, 'a lease given back is no longer its to settle');
});

t.test('a message id never starts with « - », which a spreadsheet would take for a formula (and the export neutralise)', async (t) => {
  const ids = Array.from({ length: 5000 }, () => newPublicId());
  t.ok(ids.every((id) => /^[A-Za-z0-9_][A-Za-z0-9_-]{19}$/.test(id)), 'twenty URL-safe characters, the first never « - »');
  t.equal(new Set(ids).size, ids.length, 'all different');
});
