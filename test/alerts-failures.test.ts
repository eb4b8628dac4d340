import t, { type Test } from 'tap';
import pg from 'pg';
import { Client, createAccount, signIn } from './helper.js';
import { outboxApp, sendingServerFor } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';
import { eventually, optedInAdmin } from './alert-support.js';

t.setTimeout(600_000);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await forEachStore(t, 'one language’s alert mail refused, the other sent: the refused one is tried again at the next passes, the other never mailed twice', async (t: Test, store: TestStore) => {
  let refuseEnglish = true;
  let englishRefusals = 0;
  const alertPeer = await startSmtpPeer(t, {
    authOptional: true,
    onRcptTo(address, _session, callback) {
      if (refuseEnglish && address.address === 'watch@example.com') {
        englishRefusals += 1;
        callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
        return;
      }
      callback();
    },
  });
  // Written before the alert pass starts: its first pass takes this as the baseline.
  const setup = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const flakyId = await sendingServerFor(setup.stores, { title: 'Instable', port: 1, departments: [] });
  await sendingServerFor(setup.stores, { title: 'Alertes SMTP', port: alertPeer.port, departments: ['achat'] });
  await optedInAdmin(setup, 'veille@exemple.fr');
  await optedInAdmin(setup, 'watch@example.com', 'en');
  // The default limit (one mail per subject per hour): the retry goes under the first mail's reservation.
  const app = await outboxApp(t, store, { RELAIS_ALERT_INTERVAL_SECONDS: '0.2', RELAIS_SERVER_DOWN_AFTER_FAILURES: '1' });
  await pause(500);

  await app.stores.outbox.serverFailed(flakyId, new Date(), 'ECONNREFUSED', 1, new Date(Date.now() + 600_000));
  const french = await alertPeer.message(1, 20_000);
  t.equal(french.mail.subject, '[Relais] Serveur « Instable » en panne');
  t.same(french.envelope.rcptTo.map((r) => r.address), ['veille@exemple.fr'], 'the French group got it');

  await eventually('the English group tried again at later passes', () => englishRefusals >= 3);
  t.equal(alertPeer.messages.length, 1, 'the French group is not mailed again meanwhile');
  t.same((await app.stores.alerts.recent(10)).map((e) => [e.kind, e.mailState]), [['serverDown', 'pending']], 'not marked mailed while a group lacks it');

  refuseEnglish = false;
  const english = await alertPeer.message(2, 20_000);
  t.equal(english.mail.subject, '[Relais] Server “Instable” down', 'in English');
  t.same(english.envelope.rcptTo.map((r) => r.address), ['watch@example.com'], 'only the group that lacked it');
  await eventually('marked mailed once every group has it', async () => (await app.stores.alerts.recent(10))[0]?.mailState === 'sent');
  await pause(1000);
  t.equal(alertPeer.messages.length, 2, 'no third mail');
});

await forEachStore(t, 'POST /alertes whose server is deleted between the check and the write: 422 next to the field, nothing changed', async (t: Test, store: TestStore) => {
  const app = await outboxApp(t, store);
  // Another instance on the same database deletes the server.
  const other = await outboxApp(t, store);
  const keptId = await sendingServerFor(app.stores, { title: 'Gardé', port: 2525, departments: ['achat'] });
  const goneId = await sendingServerFor(app.stores, { title: 'Supprimé', port: 2526, departments: [] });
  const admin = await createAccount(app, 'admin', { email: 'moi@exemple.fr' });
  const client = new Client(app);
  await signIn(client, admin.email);
  t.equal((await client.post('/alertes', { server: String(keptId) })).statusCode, 303);
  const audited = (await app.stores.audit.list({ action: 'alerts.server' })).total;
  t.equal(audited, 1);
  t.equal((await client.get('/alertes')).statusCode, 200, 'the form, as the administrator sees it');

  // The delete is under way in the other instance's transaction: the request's check still sees the server, its write
  // comes once the delete has committed.
  const pgClient = store.kind === 'postgres' ? new pg.Client({ connectionString: store.url }) : null;
  if (pgClient) {
    await pgClient.connect();
    t.teardown(() => pgClient.end());
  }
  let deleted!: () => void;
  let commit!: () => void;
  const deleteDone = new Promise<void>((resolve) => (deleted = resolve));
  const commitAllowed = new Promise<void>((resolve) => (commit = resolve));
  const deleting = other.stores.transaction(async (tx) => {
    t.ok(await tx.servers.delete(goneId), 'deleted, not committed yet');
    deleted();
    await commitAllowed;
  });
  await deleteDone;
  // Sent from here, not from the transaction's callback, whose write lock it would inherit (SQLite).
  const posted = client.post('/alertes', { server: String(goneId) });
  if (pgClient) {
    // PostgreSQL: the request's write waits for the delete's row lock.
    await eventually('the request waiting for the delete', async () => {
      const { rows } = await pgClient.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      return rows[0]!.n > 0;
    });
  } else {
    // SQLite: the request's write waits for that transaction (one writer per file); its check reads without waiting.
    await pause(500);
  }
  commit();
  await deleting;
  const res = await posted;
  t.equal(res.statusCode, 422, 'refused, not a 500');
  t.match(res.body, /id="server-error"[^>]*>Ce serveur vient d’être supprimé\. Choisissez « Automatique » ou un autre serveur\./, 'the error next to the field, saying what happened');
  t.match(res.body, /aria-describedby="server-hint server-error" aria-invalid="true"/);
  t.notMatch(res.body, `<option value="${goneId}"`, 'the deleted server is no longer offered');
  t.match(res.body, `<option value="${keptId}">Gardé</option>`);
  t.equal(await app.stores.alerts.alertServerId(), keptId, 'the chosen server unchanged');
  t.equal((await app.stores.audit.list({ action: 'alerts.server' })).total, audited, 'nothing audited');
});
