// The outbox's messages carry the sending server's signature and logo, and go through OAuth2 (XOAUTH2) servers with the
// tokens the connection test and the confirmation share, on both stores.
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { adminClient, text, validServer } from './helper.js';
import { apiOrigin, message, outboxApp, sendingServerFor, until } from './outbox-helpers.js';
import { clientSecret, mailbox, startTokenEndpoint, startXoauthPeer } from './oauth-peers.js';
import { pngOf } from './signature-images.js';
import { startSmtpPeer } from './smtp-peer.js';
import { forEachStore } from './stores.js';

t.setTimeout(300_000);

/** A Microsoft 365 server made through the form, as an admin does, then confirmed through the stores. */
async function microsoftServer(app: FastifyInstance, port: number, fields: Record<string, string>): Promise<number> {
  const admin = await adminClient(app);
  const created = await admin.post('/smtp-servers', {
    ...validServer,
    host: '127.0.0.1',
    port: String(port),
    security: 'none',
    confirmCombination: 'on',
    authentication: 'oauth2-microsoft',
    oauthTenant: 'contoso.onmicrosoft.com',
    oauthClientId: '00000000-1111-2222-3333-444444444444',
    username: mailbox,
    password: '',
    ...fields,
  });
  if (created.statusCode !== 303) throw new Error(`not created: ${created.statusCode} ${text(created.body).slice(0, 300)}`);
  const [server] = (await app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  await app.stores.servers.update(server!.id, { confirmationStatus: 'confirmed', confirmedAt: new Date() });
  return server!.id;
}


await forEachStore(t, 'a message closes with the signature of the server that sent it, its logo an inline part the <img> names', async (t, store) => {
  const sink = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store);
  const id = await sendingServerFor(app.stores, { title: 'Ventes', port: sink.port });
  await app.stores.servers.update(id, { signature: '<p><strong>Service Ventes</strong><br><a href="https://exemple.fr">exemple.fr</a></p><p><img src="cid:logo" alt="Logo"></p>' });
  const logo = pngOf(120, 40);
  await app.stores.logos.put({ serverId: id, contentType: 'image/png', bytes: logo, width: 120, height: 40, size: logo.length, updatedAt: new Date() });

  const outcome = await app.outbox.accept(message({ html: '<p>Bonjour, voici votre devis.</p>', text: 'Bonjour, voici votre devis.' }), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(outcome.kind);
  t.equal((await until(app, outcome.message.id, ['sent', 'failed'])).status, 'sent');
  const { mail } = await sink.message(1);
  t.match(mail.text, /Bonjour, voici votre devis\.\n+-- \nService Ventes\nexemple\.fr \(https:\/\/exemple\.fr\)/, 'the plain-text signature, after the usual separator');
  const html = String(mail.html);
  t.match(html, '<strong>Service Ventes</strong>', 'the HTML signature');
  const inline = mail.attachments.filter((a) => a.contentDisposition === 'inline');
  t.equal(inline.length, 1, 'one inline part: the logo');
  t.equal(inline[0]!.contentType, 'image/png');
  t.ok(inline[0]!.content.equals(logo), 'the logo’s very bytes');
  const cid = inline[0]!.cid!;
  t.match(html, `src="cid:${cid}"`, 'the <img> names the inline part');
  t.notMatch(html, /https?:\/\/[^"]*\.png|src="\//, 'no URL or path for the image');

  // A text-only message gets the text signature and no image to go with nothing.
  const plain = await app.outbox.accept(message({ subject: 'Texte seul' }), { origin: apiOrigin });
  if (plain.kind !== 'accepted') throw new Error(plain.kind);
  await until(app, plain.message.id, ['sent', 'failed']);
  const second = (await sink.message(2)).mail;
  t.match(second.text, /-- \nService Ventes/);
  t.equal(second.attachments.length, 0);
});

await forEachStore(t, 'through a Microsoft 365 server: XOAUTH2 from a pooled transport, and a token revoked mid-run is renewed once', async (t, store) => {
  const endpoint = await startTokenEndpoint(t);
  const smtp = await startXoauthPeer(t, endpoint);
  const app = await outboxApp(t, store, { RELAIS_OAUTH_MICROSOFT_AUTHORITY: endpoint.url });
  await microsoftServer(app, smtp.port, { oauthClientSecret: clientSecret });

  const send = async (subject: string) => {
    const outcome = await app.outbox.accept(message({ subject }), { origin: apiOrigin });
    if (outcome.kind !== 'accepted') throw new Error(outcome.kind);
    return until(app, outcome.message.id, ['sent', 'failed', 'retry']);
  };
  t.equal((await send('Premier')).status, 'sent');
  t.equal((await send('Deuxième')).status, 'sent');
  t.same(endpoint.state.issued, ['token-1'], 'one token for both messages');
  t.same([...new Set(smtp.peer.seen)], ['token-1']);

  // The token revoked at the server, which drops its sessions: the pool's next connection authenticates anew.
  endpoint.state.valid.delete('token-1');
  smtp.closeConnections();
  const third = await send('Troisième');
  t.equal(third.status, 'sent', 'delivered after one renewal');
  t.same(endpoint.state.issued, ['token-1', 'token-2'], 'a new token fetched once');
  t.equal(smtp.peer.seen.at(-1), 'token-2');
  t.same(smtp.peer.messages.map((m) => m.subject), ['Premier', 'Deuxième', 'Troisième']);
  t.notMatch(JSON.stringify(await app.outbox.find(third.id)), /token-\d|Cl1ent/, 'no token nor secret in the log of the message');
});

await forEachStore(t, 'an OAuth2 server whose token cannot be had: the backup delivers, the reason in the attempt', async (t, store) => {
  const endpoint = await startTokenEndpoint(t);
  const smtp = await startXoauthPeer(t, endpoint);
  const backup = await startSmtpPeer(t, { authOptional: true });
  const app = await outboxApp(t, store, { RELAIS_OAUTH_MICROSOFT_AUTHORITY: endpoint.url });
  const serverId = await microsoftServer(app, smtp.port, { title: 'Microsoft', oauthClientSecret: 'expired-secret' });
  const backupId = await sendingServerFor(app.stores, { title: 'Secours', port: backup.port });
  const vente = (await app.stores.departments.findByCode('vente'))!;
  await app.stores.transaction((tx) => tx.departments.setOrder(vente.id, [serverId, backupId]));

  const outcome = await app.outbox.accept(message(), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(outcome.kind);
  const done = await until(app, outcome.message.id, ['sent', 'failed']);
  t.equal(done.status, 'sent');
  t.same(done.attempts.map((a) => [a.serverId, a.outcome]), [[serverId, 'failover'], [backupId, 'sent']]);
  t.match(done.attempts[0]!.reply, /AADSTS7000222|token/i, 'why the first server could not be used');
  t.notMatch(done.attempts[0]!.reply, /expired-secret/, 'never the secret');
  t.equal(smtp.peer.messages.length, 0);
});
