import t from 'tap';
import { adminClient, buildTestApp, text } from './helper.js';
import { acceptEverything, formFor, peerUser, savedServer, serverThrough, startRawService, startSmtpPeer, type SmtpPeer } from './smtp-peer.js';
import { tlsFixtures } from './tls-fixtures.js';

/** The steps table as "step | outcome" lines. */
function stepLines(html: string): string[] {
  const table = /<table class="data-table test-steps">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
  return [...table.matchAll(/<tr class="step[^"]*">([\s\S]*?)<\/tr>/g)].map((m) => {
    const cells = [...m[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => text(c[1]!).replace(/[✔✘⚠–]/g, '').trim());
    return `${cells[0]} | ${cells[1]}`;
  });
}

t.test('"Tester" runs the real path for a saved server; the result page and the list show it', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);

  const list = await admin.get('/smtp-servers');
  t.match(list.body, `<button formaction=/smtp-servers/${id}/test aria-labelledby="at t${id}">`);
  t.match(list.body, '<span id="at">Tester la connexion</span>');
  t.notMatch(text(list.body), 'Test réussi', 'never tested yet');
  t.match(text((await admin.get(`/smtp-servers/${id}/test`)).body), 'Ce serveur n’a pas encore été testé.');

  const res = await admin.post(`/smtp-servers/${id}/test`);
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, `/smtp-servers/${id}/test`);
  t.equal(peer.messages.length, 0, 'nothing was sent');

  const page = await admin.get(`/smtp-servers/${id}/test`);
  t.equal(page.statusCode, 200);
  const body = text(page.body);
  t.match(body, 'Test de connexion de « Vente principale »');
  t.match(body, 'Connexion réussie : le serveur accepte l’expéditeur et le destinataire. Rien n’a été envoyé.');
  t.same(stepLines(page.body), [
    'Connexion TCP | Réussi',
    'Accueil du serveur | Réussi',
    'EHLO | Réussi',
    'Authentification (AUTH) | Réussi',
    'Expéditeur (MAIL FROM) | Réussi',
    'Destinataire (RCPT TO) | Réussi',
    'Annulation (RSET) | Réussi',
    'Fin de session (QUIT) | Réussi',
  ]);
  t.match(body, /\d+ ms/);
  t.match(page.body, '<code>MAIL FROM:&lt;ventes@exemple.fr&gt;</code> → <code>250');
  t.match(body, /Bannière .*Relais test peer/);
  t.match(body, 'Mécanismes AUTH PLAIN LOGIN');
  t.match(body, 'Taille maximale (SIZE) 10 Mo (10485760)');
  t.notMatch(page.body, peerUser.password);

  const last = (await app.stores.probes.lastOf(id))!;
  t.equal(last.ok, true);
  t.ok(last.at);
  t.match(JSON.parse(last.report), { version: 1, ok: true, target: { host: '127.0.0.1', port: peer.port } });
  t.notMatch(last.report, peerUser.password);
  t.match(text((await admin.get('/smtp-servers')).body), /Test réussi le \d\d\/\d\d\/\d{4} \d\d:\d\d/);
  const [entry] = (await app.repositories.audit.list({ action: 'server.test' })).rows;
  t.equal(entry!.summary, 'Vente principale');
  t.same(entry!.changes, { target: [null, `127.0.0.1:${peer.port}`], result: [null, 'ok'], storedPassword: [null, `127.0.0.1:${peer.port}`] }, 'codes in the data, words on the audit page');
});

t.test('a failing server stands out in the list, and its page says why', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer, { password: 'wrong' });
  await admin.post(`/smtp-servers/${id}/test`);

  const list = await admin.get('/smtp-servers');
  t.match(list.body, 'class="test-badge test-badge-failed"');
  t.match(text(list.body), /Test échoué le \d\d\/\d\d\/\d{4}/);

  const page = await admin.get(`/smtp-servers/${id}/test`);
  const body = text(page.body);
  t.match(body, 'Échec du test');
  t.match(body, 'Diagnostic : Identifiants refusés : le serveur n’accepte pas l’utilisateur « ventes@exemple.fr » avec ce mot de passe.');
  t.match(body, /Réponse du serveur : 535/);
  t.same(stepLines(page.body), ['Connexion TCP | Réussi', 'Accueil du serveur | Réussi', 'EHLO | Réussi', 'Authentification (AUTH) | Échec']);

  await admin.get('/language?lang=en&next=/smtp-servers');
  t.match(text((await admin.get(`/smtp-servers/${id}/test`)).body), 'Diagnosis : Credentials refused', 'a stored result reads in the viewer’s language');
  await admin.get('/language?lang=fr&next=/smtp-servers');

  // New settings make the old result meaningless.
  await admin.post(`/smtp-servers/${id}`, formFor(peer, { password: peerUser.password, host: 'localhost' }));
  t.equal(await app.stores.probes.lastOf(id), null);
  t.notMatch(text((await admin.get('/smtp-servers')).body), 'Test échoué');
});

t.test('the result shows the TLS details: version, cipher, certificate subject, issuer and expiry', async (t) => {
  const tls = tlsFixtures();
  const peer = await startSmtpPeer(t, { key: tls.server.key, cert: tls.server.cert });
  const app = await buildTestApp(t, { RELAIS_SMTP_CA_FILE: tls.caFile });
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer, { security: 'starttls' });
  await admin.post(`/smtp-servers/${id}/test`);
  const page = await admin.get(`/smtp-servers/${id}/test`);
  const body = text(page.body);
  t.match(body, 'Connexion réussie');
  t.match(stepLines(page.body), ['Connexion TCP | Réussi', 'Accueil du serveur | Réussi', 'EHLO | Réussi', 'STARTTLS | Réussi', 'Vérification du certificat | Réussi', 'EHLO après STARTTLS | Réussi']);
  t.match(body, /Version TLS TLSv1\.[23]/);
  t.match(body, /Chiffrement [A-Z0-9_-]+/);
  t.match(body, 'Certificat délivré à CN=mail.relais.test');
  t.match(body, 'Noms couverts mail.relais.test, localhost, 127.0.0.1');
  t.match(body, 'Émis par CN=Relais Test CA');
  t.match(body, /Expire le \d\d\/\d\d\/2\d{3}/);
});

t.test('"Tester avant d’enregistrer" tests the values typed, keeps them, and saves nothing', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);

  const form = await admin.get('/smtp-servers/new');
  t.match(form.body, 'formaction="/smtp-servers/new/test"');
  t.match(form.body, 'hx-post="/smtp-servers/new/test" hx-target="#test-result"');
  t.match(text(form.body), 'Tester avant d’enregistrer');

  // Without JavaScript: the whole form comes back, the result inside, every value kept but the password.
  const res = await admin.post('/smtp-servers/new/test', formFor(peer, { title: '', signature: 'Bien à vous' }));
  t.equal(res.statusCode, 200, 'a missing title does not stop a connection test');
  t.match(text(res.body), 'Connexion réussie');
  t.match(res.body, `name="port" type="text" inputmode="numeric" value="${peer.port}"`);
  t.match(res.body, 'name="host" type="text" value="127.0.0.1"');
  t.match(res.body, 'name="email" type="email" value="ventes@exemple.fr"');
  t.match(res.body, '<option value="none" data-port="25" selected>');
  t.match(res.body, '>Bien à vous</textarea>');
  t.match(res.body, 'id="password" name="password" type="password" value=""');
  t.notMatch(res.body, peerUser.password);
  t.match(text(res.body), 'Le mot de passe tapé n’est jamais réaffiché : retapez-le avant d’enregistrer.');
  t.equal((await app.repositories.smtpServers.listServers()).total, 0, 'nothing saved');
  t.equal(peer.authAttempts, 1);

  // With htmx: only the result region, so the typed password stays in its field.
  const fragment = await admin.post('/smtp-servers/new/test', formFor(peer), { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.equal(fragment.statusCode, 200);
  t.notMatch(fragment.body, '<html');
  t.notMatch(fragment.body, '<form');
  t.match(text(fragment.body), 'Connexion réussie');
  t.notMatch(text(fragment.body), 'retapez-le');

  const wrong = await admin.post('/smtp-servers/new/test', formFor(peer, { password: 'nope' }), { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.match(text(wrong.body), 'Diagnostic : Identifiants refusés');

  // Fields the test needs are checked first, by the field without JS, as a list with htmx.
  const invalid = await admin.post('/smtp-servers/new/test', formFor(peer, { host: 'smtp://bad host' }));
  t.equal(invalid.statusCode, 422);
  t.match(invalid.body, /<p class="field-error" id="host-error">[^<]*sans « smtp:\/\/ »/);
  t.match(invalid.body, 'aria-invalid="true" aria-describedby="host-hint host-error"');
  const invalidFragment = await admin.post('/smtp-servers/new/test', formFor(peer, { port: '99999' }), { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.equal(invalidFragment.statusCode, 422);
  t.match(text(invalidFragment.body), 'Corrigez d’abord ces champs pour pouvoir tester : Le port est un nombre entier entre 1 et 65535.');
  t.equal(peer.authAttempts, 3, 'no connection with invalid values (three tests above, three AUTH)');
});

t.test('on the edit form, a blank password field tests with the stored password', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  const before = await savedServer(admin, id);
  const storedBefore = await app.repositories.smtpServers.revealPassword(id);

  const edit = await admin.get(`/smtp-servers/${id}/edit`);
  t.match(edit.body, `formaction="/smtp-servers/${id}/edit/test"`);

  const stored = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(peer, { password: '' }));
  t.equal(stored.statusCode, 200);
  t.match(text(stored.body), 'Connexion réussie');
  t.match(text(stored.body), 'Mot de passe enregistré');
  t.notMatch(text(stored.body), 'retapez-le', 'nothing was typed, nothing to retype');

  const typed = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(peer, { password: 'a new wrong one' }), { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.match(text(typed.body), 'Identifiants refusés', 'a typed password is the one tested');

  const cleared = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(peer, { password: '', clearPassword: 'on' }));
  t.equal(cleared.statusCode, 422, 'clearing the password leaves nothing to test with');
  t.match(cleared.body, 'id="password-error"');

  const after = await savedServer(admin, id);
  t.same(
    { password: await app.repositories.smtpServers.revealPassword(id), updated: after.updatedAt, test: after.lastTestAt },
    { password: storedBefore, updated: before.updatedAt, test: null },
    'testing the form changes nothing on the saved server',
  );
  t.equal((await app.repositories.audit.list({ action: 'server.test' })).total, 2);
  t.equal((await admin.post('/smtp-servers/999/edit/test', formFor(peer))).statusCode, 404);
  t.equal((await admin.post('/smtp-servers/999/test')).statusCode, 404);
  t.equal((await admin.get('/smtp-servers/999/test')).statusCode, 404);
});

t.test('the stored password is never sent to a server other than the one it was typed for', async (t) => {
  const genuine = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const elsewhere = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, genuine);
  await admin.get(`/smtp-servers/${id}/edit`);

  const cases: [string, Record<string, string>][] = [
    ['another port', { port: String(elsewhere.port) }],
    ['another host', { host: 'localhost' }],
    ['another user', { username: 'autre@exemple.fr' }],
  ];
  for (const [name, change] of cases) {
    const test = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(genuine, { password: '', ...change }));
    t.equal(test.statusCode, 422, `${name}: test before saving refused`);
    t.match(text(test.body), 'Ressaisissez le mot de passe', `${name}: says why`);
    const save = await admin.post(`/smtp-servers/${id}`, formFor(genuine, { password: '', ...change }));
    t.equal(save.statusCode, 422, `${name}: saving refused`);
  }
  t.equal(elsewhere.authAttempts, 0, 'the other server never saw a login');
  t.equal(genuine.authAttempts, 0, 'nor did the genuine one, for a test that was refused');

  const same = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(genuine, { password: '' }));
  t.equal(same.statusCode, 200, 'the same server may still be tested with the stored password');
  t.equal(genuine.authAttempts, 1);
  const typed = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(genuine, { port: String(elsewhere.port) }));
  t.equal(typed.statusCode, 200, 'a password typed again may go anywhere its typist sends it');
  t.equal(elsewhere.authAttempts, 1);
});

t.test('a test still running when the server is edited does not stamp its result on the new settings', async (t) => {
  const slow = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, slow);
  const before = (await app.repositories.smtpServers.findServer(id))!;
  const { probeServer } = await import('../src/smtp/probe.js');
  const report = await probeServer(before, peerUser.password, app.smtpSettings);
  await admin.post(`/smtp-servers/${id}`, formFor(slow, { host: 'localhost' }));
  const kept = await app.repositories.connectionTests.recordServerTest(id, before.title, report, { userId: null, name: 'test', ip: null }, before.version);
  t.equal(kept, false);
  t.equal(await app.stores.probes.lastOf(id), null, 'no result on the edited server');
  t.match((await app.repositories.audit.list({ action: 'server.test' })).rows[0]!.changes, { retained: [null, false] });
  const fresh = (await app.repositories.smtpServers.findServer(id))!;
  t.equal(await app.repositories.connectionTests.recordServerTest(id, fresh.title, report, { userId: null, name: 'test', ip: null }, fresh.version), true, 'an unchanged server keeps its result');
});

t.test('without the allow-list, 127.0.0.1 and a name resolving to it are refused by the test and the confirmation, in words', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t, { RELAIS_SMTP_ALLOWED_NETWORKS: '' });
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);

  t.equal((await admin.post(`/smtp-servers/${id}/test`)).statusCode, 303);
  const page = text((await admin.get(`/smtp-servers/${id}/test`)).body);
  t.match(page, 'Relais ne se connecte pas à 127.0.0.1, une adresse de bouclage (cette machine) : pour un relais local, ajoutez son réseau à RELAIS_SMTP_ALLOWED_NETWORKS (par exemple 127.0.0.0/8) ou mettez RELAIS_SMTP_ALLOW_PRIVATE=true.');
  t.same(stepLines((await admin.get(`/smtp-servers/${id}/test`)).body), ['Connexion TCP | Échec']);

  const typed = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(peer, { host: 'localhost', authentication: 'none', username: '', password: '' }));
  t.equal(typed.statusCode, 200);
  t.match(text(typed.body), 'Relais ne se connecte pas à');
  t.match(text(typed.body), 'RELAIS_SMTP_ALLOW_PRIVATE=true');

  const sent = await admin.post(`/smtp-servers/${id}/confirmation`);
  t.equal(sent.statusCode, 303);
  const list = text((await admin.get('/smtp-servers')).body);
  t.match(list, 'RELAIS_SMTP_ALLOWED_NETWORKS', 'the confirmation says which setting allows it');
  t.equal(peer.authAttempts, 0, 'the stored password went nowhere');
  t.equal(peer.messages.length, 0);
  t.equal(peer.connections, 0, 'the peer was never dialled');
});

t.test('a second test of the same server while one runs starts nothing and says so (no JavaScript to disable the button)', async (t) => {
  const slow = await startRawService(t, '220 slow.relais.test ESMTP\r\n', { delayMs: 600, answer: acceptEverything });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, { port: slow.port } as SmtpPeer, { authentication: 'none', username: '', password: '' });

  const [first, second] = await Promise.all([admin.post(`/smtp-servers/${id}/test`), admin.post(`/smtp-servers/${id}/test`)]);
  t.equal(first.statusCode, 303);
  t.equal(second.statusCode, 303, 'the second click waits for the first test…');
  t.equal(second.headers.location, `/smtp-servers/${id}/test`);
  t.equal(slow.connections(), 1, '…and starts none: one conversation with the server, not two');
  const result = text((await admin.get(`/smtp-servers/${id}/test`)).body);
  t.match(result, 'Un test de ce serveur était déjà en cours : voici son résultat (aucun second test n’a été lancé).');
  t.match(result, 'Connexion réussie');

  const form = formFor({ port: slow.port } as SmtpPeer, { authentication: 'none', username: '', password: '' });
  const both = await Promise.all([admin.post(`/smtp-servers/${id}/edit/test`, form), admin.post(`/smtp-servers/${id}/edit/test`, form)]);
  t.same(both.map((r) => r.statusCode).sort(), [200, 409]);
  const again = both.find((r) => r.statusCode === 409)!;
  t.match(text(again.body), 'Un test de ce serveur est déjà en cours : attendez son résultat avant d’en lancer un autre.', 'the form comes back with the message');
  t.match(again.body, `value="${slow.port}"`, 'the values typed are kept');
  t.equal(slow.connections(), 2);
  const htmx = await admin.post(`/smtp-servers/${id}/edit/test`, form, { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.equal(htmx.statusCode, 200, 'once it is over, the next test runs');
  t.equal(slow.connections(), 3);
});
