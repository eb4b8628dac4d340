import t, { type Test } from 'tap';
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
