// A certificate the scheduled checks see near its expiry, or with another issuer, makes an alert mail and a webhook
// call, once per threshold crossed, and is flagged on the dashboard and in /metrics: the health checks and the alert
// pass running by themselves, on real peers.
import t, { type Test } from 'tap';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { adminClient, text } from './helper.js';
import { eventually, optedInAdmin } from './alert-support.js';
import { outboxApp, sendingServerFor } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore, type TestStore } from './stores.js';
import { tlsFixtures } from './tls-fixtures.js';
import { startWebhookPeer } from './webhook-peer.js';

t.setTimeout(600_000);

const secret = 'webhook-secret-for-the-certificates';

await forEachStore(t, 'a certificate expiring in 10 days is told once by mail and webhook; an issuer change once more', async (t: Test, store: TestStore) => {
  const tls = tlsFixtures();
  const soon = tls.expiringIn(10);
  const achat = await startSmtpPeer(t, { secure: true, key: soon.key, cert: soon.cert, authOptional: true });
  const alertPeer = await startSmtpPeer(t, { authOptional: true });
  const hook = await startWebhookPeer(t, secret);

  const setup = await outboxApp(t, store, { RELAIS_OUTBOX_WORKER: 'false' });
  const achatId = await sendingServerFor(setup.stores, { title: 'Achat TLS', port: achat.port, security: 'tls', departments: ['achat'] });
  const alertId = await sendingServerFor(setup.stores, { title: 'Alertes', port: alertPeer.port, departments: ['vente', 'production'] });
  await setup.stores.alerts.setAlertServer(alertId, new Date());
  await optedInAdmin(setup, 'veille@exemple.fr');

  const app = await outboxApp(t, store, {
    RELAIS_SMTP_CA_FILE: tls.caFile,
    RELAIS_HEALTH_CHECK_MINUTES: '0.05',
    RELAIS_ALERT_INTERVAL_SECONDS: '0.2',
    RELAIS_ALERT_SUBJECT_MINUTES: '0',
    RELAIS_ALERT_WEBHOOK_URL: hook.url,
    RELAIS_ALERT_WEBHOOK_SECRET: secret,
    RELAIS_METRICS_TOKEN: 'metrics-token-for-the-certificates',
  });

  const mail = await alertPeer.message(1, 40_000);
  t.equal(mail.mail.subject, '[Relais] Certificat du serveur « Achat TLS »');
  t.match(mail.mail.text ?? '', /Le certificat du serveur « Achat TLS » : Le certificat expire dans 10 jours/);
  t.match(mail.mail.text ?? '', `/smtp-servers/${achatId}/edit`, 'a link to the server page');
  const call = await eventually('the webhook call', () => hook.calls.find((c) => c.json.events.some((e) => e.kind === 'certificate')), 40_000);
  t.ok(call.signatureValid, 'signed with the shared secret');
  const event = call.json.events.find((e) => e.kind === 'certificate');
  t.match(event, { kind: 'certificate', subject: `certificate:${achatId}`, serverId: achatId, threshold: '14', daysLeft: 10, issuer: 'CN=Relais Test CA' });

  // The dashboard flags it in the department's card and in the servers' table; /metrics gives the days left.
  const admin = await adminClient(app);
  const dashboard = await admin.get('/tableau-de-bord');
  t.equal(dashboard.statusCode, 200);
  const card = /<li data-server="(\d+)"[^>]*>([\s\S]*?)<\/li>/.exec(dashboard.body.slice(dashboard.body.indexOf('data-department="achat"')));
  t.equal(Number(card?.[1]), achatId, 'the card of Achat lists its server');
  t.match(text(card?.[2] ?? ''), 'Certificat : expire dans 10 j', 'flagged beside its state in the card');
  const row = /<tr data-server="(\d+)">([\s\S]*?)<\/tr>/g;
  const rows = new Map([...dashboard.body.matchAll(row)].map((m) => [Number(m[1]), text(m[2]!)]));
  t.match(rows.get(achatId), /expire le .*Certificat : expire dans 10 j/, 'the servers table gives the expiry date and the flag');
  t.match(rows.get(alertId), 'aucun vu en TLS', 'a server without TLS has no certificate');
  const metrics = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-token-for-the-certificates' } });
  const family = parsePrometheusTextFormat(metrics.body).find((f) => f.name === 'relais_server_certificate_expiry_days');
  const sample = family?.metrics.find((m) => 'labels' in m && m.labels?.server_id === String(achatId));
  const days = Number(sample && 'value' in sample ? sample.value : NaN);
  t.ok(days > 9 && days <= 10, `/metrics: about ten days left (${days})`);
  t.notOk(family?.metrics.some((m) => 'labels' in m && m.labels?.server_id === String(alertId)), 'none for a server never seen in TLS');

  // Further checks see the same certificate: nothing more to tell.
  const checksBefore = (await app.stores.healthChecks.find(achatId))!.lastCheckAt!.getTime();
  await eventually('two more checks', async () => (await app.stores.healthChecks.find(achatId))!.lastCheckAt!.getTime() > checksBefore + 3000, 40_000);
  t.equal(alertPeer.messages.length, 1, 'one mail for one threshold crossed, not one per check');

  // The same port now answers with a certificate from another issuer.
  await achat.close();
  await startSmtpPeer(t, { secure: true, key: tls.selfSigned.key, cert: tls.selfSigned.cert, authOptional: true, listenPort: achat.port });
  const second = await alertPeer.message(2, 40_000);
  t.match(second.mail.text ?? '', /L’émetteur du certificat a changé .*« CN=Relais Test CA » avant/);
  t.equal(alertPeer.messages.length, 2);
});
