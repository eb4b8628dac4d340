/// <reference lib="dom" />
// A certificate the scheduled check found expiring soon, as a person sees it: on the list and the server's page, in
// words beside the icon, axe clean, JavaScript on and off, at 1280 and 360 px.
import { startSmtpPeer, peerUser } from '../smtp-peer.js';
import { tlsFixtures } from '../tls-fixtures.js';
import { scenario } from './harness.js';
import { createServers } from './support.js';

const tls = tlsFixtures();

for (const width of [1280, 360]) {
  scenario(
    `a certificate expiring in 10 days is flagged on the list and the server's page (${width} px)`,
    async (s) => {
      const soon = tls.expiringIn(10);
      const peer = await startSmtpPeer(s.t, { secure: true, key: soon.key, cert: soon.cert });
      const [server] = await createServers(s.app, [
        { title: 'Vente TLS', host: '127.0.0.1', port: String(peer.port), security: 'tls', email: peerUser.username, senderName: 'Vente', username: peerUser.username, password: peerUser.password },
      ]);
      const id = server!.id;
      await s.until('the certificate seen by a scheduled check', async () => (await s.stores.healthChecks.certificatesOf([id])).has(id), 30_000);

      await s.goto('/smtp-servers');
      const badge = s.page.locator(`#server-${id} .badge-cert`);
      s.t.equal((await badge.innerText()).trim(), '⚠ Certificat : expire dans 10 j');
      await s.checkAccessibility('the list with a flagged certificate');

      await s.goto(`/smtp-servers/${id}/edit`);
      const section = s.page.locator('section.server-health');
      s.t.match(await section.innerText(), 'Le certificat expire dans 10 jours');
      s.t.match(await section.innerText(), 'CN=Relais Test CA');
      const box = await section.boundingBox();
      s.t.ok(box && box.x + box.width <= width, 'the section fits the width');
      await s.checkAccessibility('the server page with a flagged certificate');
    },
    { env: { RELAIS_HEALTH_CHECK_MINUTES: '0.05', RELAIS_SMTP_CA_FILE: tls.caFile }, context: { viewport: { width, height: 900 } } },
  );
}
