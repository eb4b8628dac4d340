import { createHash } from 'node:crypto';
import fs from 'node:fs';
import t from 'tap';
import { systemActor } from '../src/audit/store.js';
import { adminClient, buildTestApp, Client, text, validServer } from './helper.js';
import { peerUser, savedServer, serverThrough, startSmtpPeer } from './smtp-peer.js';
import { tlsFixtures } from './tls-fixtures.js';

const tokensOf = (client: Client, id: number) => client.app.stores.confirmations.tokensOf(id);

async function auditOf(client: Client, action: string) {
  return (await client.app.repositories.audit.list({ action })).rows.reverse();
}

function linkIn(body: string): string {
  const match = /http:\/\/relais\.test\/confirm\/([A-Za-z0-9_-]{43})/.exec(body);
  if (!match) throw new Error('no confirmation link in the message');
  return match[1]!;
}

t.test('the envelope sends a confirmation through the server itself; its link confirms the server', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);

  const list = await admin.get('/smtp-servers');
  t.match(list.body, `<button formaction=/smtp-servers/${id}/confirmation aria-labelledby="am t${id}">`);
  t.match(list.body, '<span id="am">Envoyer la confirmation</span>', 'the envelope is named for screen readers by the legend and the row’s title');

  const before = Date.now();
  const sent = await admin.post(`/smtp-servers/${id}/confirmation`, { back: '/smtp-servers?q=vente' });
  t.equal(sent.statusCode, 303);
  t.equal(sent.headers.location, '/smtp-servers?q=vente', 'back to the list as it was');

  t.equal(peer.messages.length, 1);
  const { mail, envelope, user } = peer.messages[0]!;
  t.same(mail.from?.value, [{ address: 'ventes@exemple.fr', name: 'Service Vente' }]);
  t.same((Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value.map((a) => a.address), ['ventes@exemple.fr']);
  t.equal(envelope.mailFrom && envelope.mailFrom.address, 'ventes@exemple.fr');
  t.same(envelope.rcptTo.map((r) => r.address), ['ventes@exemple.fr']);
  t.equal(user, peerUser.username, 'sent with the server’s own credentials');
  t.equal(mail.subject, 'Relais : confirmez l’adresse ventes@exemple.fr');
  t.match(mail.text, 'à travers le serveur SMTP « Vente principale »');
  t.match(mail.html, '<a href="http://relais.test/confirm/');
  const token = linkIn(mail.text!);
  t.equal(linkIn(mail.html as string), token, 'the same link in the HTML and the text');

  const row = await savedServer(admin, id);
  t.equal(row.confirmationStatus, 'pending');
  t.ok(row.confirmationSentAt!.getTime() >= before);
  const ttl = row.confirmationExpiresAt!.getTime() - row.confirmationSentAt!.getTime();
  t.ok(Math.abs(ttl - 48 * 3600 * 1000) < 5000, 'valid 48 hours');
  const tokens = await tokensOf(admin, id);
  t.equal(tokens.length, 1);
  t.equal(tokens[0]!.tokenHash, createHash('sha256').update(token).digest('hex'), 'only the hash is stored');
  if (app.stores.kind === 'sqlite') {
    app.database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    t.notOk(fs.readFileSync(app.database.file).includes(token), 'the token itself is nowhere in the database file');
  }

  const after = await admin.get('/smtp-servers');
  t.match(text(after.body), 'Message de confirmation envoyé à ventes@exemple.fr par « Vente principale »');
  t.match(text(after.body), /En attente \(envoyé le \d\d\/\d\d\/\d{4} \d\d:\d\d, expire le \d\d\/\d\d\/\d{4} \d\d:\d\d\)/);

  // Someone opening the link, not signed in: a page that names the server, and nothing changes yet.
  const visitor = new Client(app);
  const page = await visitor.get(`/confirm/${token}`);
  t.equal(page.statusCode, 200);
  t.match(text(page.body), 'Confirmer l’adresse ventes@exemple.fr');
  t.match(text(page.body), 'le serveur SMTP « Vente principale » (127.0.0.1:');
  t.match(page.body, `<form method="post" action="/confirm/${token}"`);
  t.match(page.body, /name="_csrf" value="[^"]+"/);
  t.equal(page.headers['cache-control'], 'no-store');
  t.equal((await savedServer(admin, id)).confirmationStatus, 'pending', 'opening the link confirms nothing');

  const confirmed = await visitor.post(`/confirm/${token}`);
  t.equal(confirmed.statusCode, 200);
  t.match(text(confirmed.body), 'Adresse confirmée');
  t.match(text(confirmed.body), 'Le serveur « Vente principale » est confirmé depuis le');
  const done = await savedServer(admin, id);
  t.equal(done.confirmationStatus, 'confirmed');
  t.ok(done.confirmedAt!.getTime() >= before);
  t.ok((await tokensOf(admin, id))[0]!.usedAt, 'the token is spent');

  const again = await visitor.post(`/confirm/${token}`);
  t.equal(again.statusCode, 410);
  t.match(text(again.body), 'Lien déjà utilisé');
  t.match(text(again.body), 'rien n’a été modifié');
  t.equal((await visitor.get(`/confirm/${token}`)).statusCode, 410);
  t.same((await savedServer(admin, id)).confirmedAt, done.confirmedAt, 'a reuse changes nothing');

  const confirmedList = await admin.get('/smtp-servers');
  t.match(text(confirmedList.body), /Confirmé le \d\d\/\d\d\/\d{4}/);

  const audit = [...(await auditOf(admin, 'server.confirmation_send')), ...(await auditOf(admin, 'server.confirm'))];
  t.match(audit, [
    { action: 'server.confirmation_send', summary: /^Vente principale → ventes@exemple\.fr \(127\.0\.0\.1:(\d+)\) ; mot de passe enregistré utilisé vers 127\.0\.0\.1:\1$/ },
    { action: 'server.confirm', actor: 'anonyme', summary: 'Vente principale (ventes@exemple.fr)' },
  ]);
});

t.test('the message is in the language of the admin who sends it', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  await admin.get('/language?lang=en&next=/smtp-servers');
  await admin.post(`/smtp-servers/${id}/confirmation`);
  const { mail } = await peer.message(1);
  t.equal(mail.subject, 'Relais: confirm the address ventes@exemple.fr');
  t.match(mail.text, 'Relais sent this message through the SMTP server “Vente principale”');
  const token = linkIn(mail.text!);
  const page = await new Client(app).get(`/confirm/${token}`, { 'accept-language': 'en' });
  t.match(text(page.body), 'Confirm the address ventes@exemple.fr');
});

t.test('confirming needs the page’s CSRF token', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  await admin.post(`/smtp-servers/${id}/confirmation`);
  const token = linkIn(peer.messages[0]!.mail.text!);
  const forged = await app.inject({ method: 'POST', url: `/confirm/${token}`, payload: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(forged.statusCode, 403);
  t.equal((await savedServer(admin, id)).confirmationStatus, 'pending');
  t.equal((await tokensOf(admin, id))[0]!.usedAt, null);
});

t.test('replaced, expired and unknown links get a clear page and change nothing', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  const visitor = new Client(app);

  await admin.post(`/smtp-servers/${id}/confirmation`);
  await admin.post(`/smtp-servers/${id}/confirmation`);
  const first = linkIn(peer.messages[0]!.mail.text!);
  const second = linkIn(peer.messages[1]!.mail.text!);
  t.not(first, second);

  const replaced = await visitor.get(`/confirm/${first}`);
  t.equal(replaced.statusCode, 410);
  t.match(text(replaced.body), 'Lien remplacé');
  t.match(text(replaced.body), 'une confirmation plus récente a été envoyée');
  t.equal((await visitor.post(`/confirm/${first}`)).statusCode, 410, 'sending again voids the earlier link');
  t.equal((await savedServer(admin, id)).confirmationStatus, 'pending');

  // A link sent two hours ago for one hour takes the place of the second.
  const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
  const sentEarlier = await app.repositories.confirmations.issue(id, { ttlHours: 1, now: twoHoursAgo });
  if (sentEarlier.kind !== 'issued') throw new Error('no link issued');
  await app.repositories.confirmations.recordSent(id, sentEarlier.tokenId, { sentAt: twoHoursAgo, expiresAt: sentEarlier.expiresAt, summary: 'envoi antérieur' }, systemActor);
  const expired = sentEarlier.token;
  const expiredPage = await visitor.get(`/confirm/${expired}`);
  t.equal(expiredPage.statusCode, 410);
  t.match(text(expiredPage.body), 'Lien expiré');
  t.match(text(expiredPage.body), 'demandez à un administrateur de renvoyer la confirmation');
  const expiredPost = await visitor.post(`/confirm/${expired}`);
  t.equal(expiredPost.statusCode, 410);
  t.equal((await savedServer(admin, id)).confirmationStatus, 'pending', 'an expired link confirms nothing');
  t.equal((await savedServer(admin, id)).confirmedAt, null);
  t.match(text((await admin.get('/smtp-servers')).body), /Lien expiré le \d\d\/\d\d\/\d{4} \d\d:\d\d : renvoyez la confirmation/);

  for (const unknown of ['A'.repeat(43), 'not-a-token', `${second}x`]) {
    const page = await visitor.get(`/confirm/${unknown}`);
    t.equal(page.statusCode, 404, unknown);
    t.match(text(page.body), 'Lien inconnu');
    t.equal((await visitor.post(`/confirm/${unknown}`)).statusCode, 404);
  }
  t.same(await auditOf(admin, 'server.confirm'), []);
});

t.test('changing host, port, security, email, username or password puts the server back to "Non confirmé"', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  const form = { ...validServer, host: '127.0.0.1', port: String(peer.port), security: 'none', username: peerUser.username, password: '', confirmCombination: 'on' };

  await admin.post(`/smtp-servers/${id}/confirmation`);
  const token = linkIn(peer.messages[0]!.mail.text!);
  const confirmer = new Client(app);
  await confirmer.get(`/confirm/${token}`);
  await confirmer.post(`/confirm/${token}`);
  t.equal((await savedServer(admin, id)).confirmationStatus, 'confirmed');

  await admin.post(`/smtp-servers/${id}`, { ...form, title: 'Vente (renommé)' });
  t.equal((await savedServer(admin, id)).confirmationStatus, 'confirmed', 'a new title proves nothing new and undoes nothing');

  // Another host: the stored password is not sent there unless typed again.
  const refused = await admin.post(`/smtp-servers/${id}`, { ...form, title: 'Vente (renommé)', host: 'localhost' });
  t.equal(refused.statusCode, 422);
  t.equal((await savedServer(admin, id)).confirmationStatus, 'confirmed', 'a refused edit changes nothing');
  await admin.post(`/smtp-servers/${id}`, { ...form, title: 'Vente (renommé)', host: 'localhost', password: peerUser.password });
  const row = await savedServer(admin, id);
  t.equal(row.confirmationStatus, 'unconfirmed');
  t.equal(row.confirmedAt, null);
  t.match(text((await admin.get('/smtp-servers')).body), 'Non confirmé');

  // A link on its way when the server changes is void.
  await admin.post(`/smtp-servers/${id}`, { ...form, title: 'Vente (renommé)', password: peerUser.password });
  await admin.post(`/smtp-servers/${id}/confirmation`);
  const pending = linkIn(peer.messages[1]!.mail.text!);
  await admin.post(`/smtp-servers/${id}`, { ...form, title: 'Vente (renommé)', email: 'achats@exemple.fr' });
  t.equal((await savedServer(admin, id)).confirmationStatus, 'unconfirmed');
  const visitor = new Client(app);
  t.equal((await visitor.get(`/confirm/${pending}`)).statusCode, 410);
  t.equal((await visitor.post(`/confirm/${pending}`)).statusCode, 410);
  t.equal((await savedServer(admin, id)).confirmationStatus, 'unconfirmed');
});

t.test('at most 5 confirmation messages an hour for one server', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  const other = await serverThrough(admin, peer, { title: 'Achats', email: 'achats@exemple.fr' });
  for (let i = 1; i <= 5; i++) t.equal((await admin.post(`/smtp-servers/${id}/confirmation`)).statusCode, 303, `send ${i}`);
  t.equal(peer.messages.length, 5);

  const sixth = await admin.post(`/smtp-servers/${id}/confirmation`);
  t.equal(sixth.statusCode, 429);
  t.match(text(sixth.body), 'Trop d’envois de confirmation');
  t.match(text(sixth.body), /Au plus 5 messages de confirmation par heure pour un même serveur\. « Vente principale » pourra en renvoyer un à partir du \d\d\/\d\d\/\d{4} \d\d:\d\d\. Rien n’a été envoyé\./);
  t.ok(Number(sixth.headers['retry-after']) > 3500);
  t.equal(peer.messages.length, 5, 'the sixth never left');
  t.equal((await tokensOf(admin, id)).length, 5);
  t.equal((await tokensOf(admin, id)).filter((r) => r.revokedAt === null).length, 1, 'only the latest link is alive');

  t.equal((await admin.post(`/smtp-servers/${other}/confirmation`)).statusCode, 303, 'another server, to another address, has its own allowance');

  const anHourLater = new Date(Date.now() + 3600 * 1000 + 1000);
  t.equal((await app.repositories.confirmations.issue(id, { ttlHours: 48, now: anHourLater })).kind, 'issued', 'an hour later it may send again');
});

t.test('a send that fails says why, in words, in the flash and in the Confirmation column', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer, { password: 'not the password' });

  const res = await admin.post(`/smtp-servers/${id}/confirmation`);
  t.equal(res.statusCode, 303);
  t.equal(peer.messages.length, 0);
  const list = text((await admin.get('/smtp-servers')).body);
  t.match(list, 'La confirmation n’a pas pu partir par « Vente principale » : Identifiants refusés : le serveur n’accepte pas l’utilisateur « ventes@exemple.fr »');
  t.match(list, 'Échec de l’envoi (Identifiants refusés');
  const row = await savedServer(admin, id);
  t.equal(row.confirmationStatus, 'failed');
  t.match(JSON.parse(row.confirmationError!), { key: 'diagnosis.authFailed', reply: /^535/ });
  t.not((await tokensOf(admin, id))[0]!.revokedAt, null, 'the link of a message that never left is void');
  t.notMatch(list, 'not the password');

  await admin.get('/language?lang=en&next=/smtp-servers');
  t.match(text((await admin.get('/smtp-servers')).body), 'Credentials refused: the server does not accept the user', 'read in the viewer’s language');
  t.match(await auditOf(admin, 'server.confirmation_send'), [{ summary: /: authFailed$/ }]);
});

t.test('a refused certificate is named in the failure', async (t) => {
  const tls = tlsFixtures();
  const peer = await startSmtpPeer(t, { secure: true, key: tls.selfSigned.key, cert: tls.selfSigned.cert });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer, { security: 'tls' });
  await admin.post(`/smtp-servers/${id}/confirmation`);
  t.match(text((await admin.get('/smtp-servers')).body), 'Échec de l’envoi (Le certificat du serveur est auto-signé (délivré à « self.relais.test »)');
  t.equal(peer.authAttempts, 0);

  // Trusted through RELAIS_SMTP_CA_FILE, the same server delivers.
  const trusting = await buildTestApp(t, { RELAIS_SMTP_CA_FILE: tls.selfSigned.certFile });
  const admin2 = await adminClient(trusting);
  const id2 = await serverThrough(admin2, peer, { security: 'tls' });
  await admin2.post(`/smtp-servers/${id2}/confirmation`);
  t.equal(peer.messages.length, 1);
  t.equal((await savedServer(admin2, id2)).confirmationStatus, 'pending');
});

t.test('sending to a server that does not exist', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  t.equal((await admin.post('/smtp-servers/999/confirmation')).statusCode, 404);
  t.equal((await admin.post('/smtp-servers/abc/confirmation')).statusCode, 404);
});

t.test('STARTTLS chosen for an implicit-TLS port: the failure says to choose SSL/TLS', async (t) => {
  const tls = tlsFixtures();
  const peer = await startSmtpPeer(t, { secure: true, key: tls.server.key, cert: tls.server.cert });
  const app = await buildTestApp(t, { RELAIS_SMTP_GREETING_TIMEOUT_MS: '400', RELAIS_SMTP_CA_FILE: tls.caFile });
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer, { security: 'starttls' });
  await admin.post(`/smtp-servers/${id}/confirmation`);
  t.equal(peer.messages.length, 0);
  t.match(text((await admin.get('/smtp-servers')).body), `Échec de l’envoi (Le port ${peer.port} attend une connexion SSL/TLS immédiate : choisissez la sécurité SSL/TLS (port 465).)`);

  await admin.post(`/smtp-servers/${id}`, { ...validServer, host: '127.0.0.1', port: String(peer.port), security: 'tls', username: peerUser.username, password: peerUser.password });
  await admin.post(`/smtp-servers/${id}/confirmation`);
  t.equal(peer.messages.length, 1, 'with SSL/TLS chosen, the message leaves');
});
