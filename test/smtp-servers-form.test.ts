// The server form's rules: hosts that name their problem, unusual port/security combinations, duplicating, the
// password notice after a refusal.
import t from 'tap';
import { adminClient, buildTestApp, text, validServer } from './helper.js';
import { checkHost, mismatchesOf } from '../src/smtp-servers/validation.js';

const errorOf = (body: string, field: string) => text(new RegExp(`<p class="field-error" id="${field}-error">([^<]*)</p>`).exec(body)?.[1] ?? '');

t.test('host errors name the problem', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const cases: [string, string][] = [
    ['smtp.gmail.com:587', 'Indiquez l’hôte seul (smtp.gmail.com) et indiquez le port dans le champ Port.'],
    ['smtp://smtp.gmail.com', 'Indiquez l’hôte sans « smtp:// » : seulement le nom, par exemple smtp.exemple.fr.'],
    ['smtps://smtp.gmail.com:465', 'Indiquez l’hôte sans « smtps:// » : seulement le nom, par exemple smtp.exemple.fr.'],
    ['smtp.gma ïl.com', 'Ce nom d’hôte avec accents ou caractères non latins n’est pas un nom de domaine internationalisé valable.'],
    ['smtp exemple.fr', 'Indiquez un nom d’hôte ou une adresse IP, sans « smtp:// », sans chemin ni espace.'],
  ];
  for (const [host, message] of cases) {
    const res = await client.post('/smtp-servers', { ...validServer, host });
    t.equal(res.statusCode, 422, `${host}: refused`);
    t.equal(errorOf(res.body, 'host'), message, `${host}: the message by the host field`);
  }
  t.same((await app.repositories.smtpServers.listServers()).rows, [], 'nothing was saved');

  const idn = await client.post('/smtp-servers', { ...validServer, host: 'smtp.gmaïl.com' });
  t.equal(idn.statusCode, 303, 'an internationalised name is accepted');
  const [server] = (await app.repositories.smtpServers.listServers()).rows;
  t.equal(server!.host, 'smtp.xn--gmal-7pa.com', 'and stored as punycode');
  t.same(checkHost('[::1]:25'), { ok: false, error: { key: 'error.host.withPort', params: { host: '[::1]', port: '25' } } });
  t.same(checkHost('[::1]'), { ok: true, ascii: '[::1]' }, 'a bracketed IPv6 address is no port');
});

t.test('an unusual port/security combination is saved only once confirmed, and audited', async (t) => {
  t.same(mismatchesOf({ port: 587, security: 'tls', authentication: 'none' }), ['tlsOnPlainPort']);
  t.same(mismatchesOf({ port: 25, security: 'tls', authentication: 'none' }), ['tlsOnPlainPort']);
  t.same(mismatchesOf({ port: 465, security: 'starttls', authentication: 'none' }), ['plainOnTlsPort']);
  t.same(mismatchesOf({ port: 465, security: 'none', authentication: 'password' }), ['plainOnTlsPort', 'passwordInClear']);
  t.same(mismatchesOf({ port: 587, security: 'starttls', authentication: 'password' }), []);
  t.same(mismatchesOf({ port: 2525, security: 'tls', authentication: 'password' }), []);

  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const unusual = { ...validServer, security: 'tls', port: '587' };
  const refused = await client.post('/smtp-servers', unusual);
  t.equal(refused.statusCode, 422);
  t.match(refused.body, /<li data-mismatch="tlsOnPlainPort">SSL\/TLS sur le port 587 ou 25 : ces ports parlent d’abord en clair/, 'the warning is next to the fields');
  t.match(refused.body, '<li data-mismatch="passwordInClear" hidden>', 'only the mismatch that applies is shown');
  t.equal(
    errorOf(refused.body, 'confirmCombination'),
    'Ce port, cette sécurité et cette authentification ne vont pas ensemble : corrigez-les ou cochez « Je confirme cette combinaison ».',
  );
  t.match(refused.body, /<input type="checkbox" id="confirmCombination" name="confirmCombination" value="on" aria-invalid="true"/);
  t.equal((await app.repositories.smtpServers.listServers()).total, 0, 'a refused request saves nothing');
  t.equal((await app.repositories.audit.list({ action: 'server.unusualCombination' })).total, 0);

  const clear = await client.post('/smtp-servers', { ...validServer, title: 'En clair', security: 'none', port: '25' });
  t.match(clear.body, /<li data-mismatch="passwordInClear">Avec la sécurité « Aucune », le mot de passe traverserait le réseau en clair/);

  const saved = await client.post('/smtp-servers', { ...unusual, confirmCombination: 'on' });
  t.equal(saved.statusCode, 303, 'saved once confirmed');
  const [server] = (await app.repositories.smtpServers.listServers()).rows;
  t.equal(server!.unusualCombination, true);
  const audit = await app.repositories.audit.list({ action: 'server.unusualCombination' });
  t.equal(audit.total, 1, 'the confirmation is in the audit trail');
  t.same(audit.rows[0]!.changes, { combination: [null, 'tlsOnPlainPort'], port: [null, 587], security: [null, 'tls'] });
  t.equal(audit.rows[0]!.targetId, String(server!.id));

  const list = await client.get('/smtp-servers');
  t.match(list.body, /<span class="badge badge-unusual" title="[^"]+">combinaison inhabituelle<\/span>/, 'the list marks the server');

  // Saving it again with the same combination does not ask again; a new mismatch does.
  const again = await client.post(`/smtp-servers/${server!.id}`, { ...unusual, senderName: 'Ventes', password: '' });
  t.equal(again.statusCode, 303);
  const moved = await client.post(`/smtp-servers/${server!.id}`, { ...unusual, port: '25', password: '' });
  t.equal(moved.statusCode, 422, 'another unusual port asks again');
  t.equal((await app.repositories.smtpServers.findServer(server!.id))!.port, 587, 'and changes nothing');
  const fixed = await client.post(`/smtp-servers/${server!.id}`, { ...unusual, port: '465', password: '' });
  t.equal(fixed.statusCode, 422, 'a port change needs the password again');
  t.match(fixed.body, /id="combination" data-combination hidden>/, 'SSL/TLS on 465 is no longer unusual');
});

t.test('after a refusal the password field says the password must be typed again, and why', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const res = await client.post('/smtp-servers', { ...validServer, title: '' });
  t.equal(res.statusCode, 422);
  t.notMatch(res.body, validServer.password, 'the password stays write-only');
  const notice = /<p class="field-notice" id="password-retype">([^<]*)<\/p>/.exec(res.body);
  t.equal(
    notice?.[1],
    'Ressaisissez le mot de passe : pour qu’il ne soit jamais renvoyé ni affiché, Relais ne remet pas dans la page le mot de passe que vous aviez tapé.',
  );
  t.match(res.body, /<input id="password" [^>]*aria-describedby="password-hint password-retype"/, 'the field points at the notice');
  const withoutPassword = await client.post('/smtp-servers', { ...validServer, title: '', password: '' });
  t.notMatch(withoutPassword.body, 'password-retype', 'no notice when no password was typed');
  t.equal((await client.get('/smtp-servers/new')).body.includes('password-retype'), false, 'nor on a fresh form');

});

t.test('duplicate opens a filled new-server form and saves nothing before « Créer le serveur »', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await client.post('/smtp-servers', validServer);
  const [source] = (await app.repositories.smtpServers.listServers()).rows;
  const auditBefore = (await app.repositories.audit.list()).total;

  const button = await client.post(`/smtp-servers/${source!.id}/duplicate`);
  t.equal(button.statusCode, 303);
  t.equal(button.headers.location, `/smtp-servers/new?from=${source!.id}`);
  const form = await client.get(String(button.headers.location));
  t.equal(form.statusCode, 200);
  t.match(form.body, 'value="Vente principale (copie)"', 'the copy is titled « … (copie) »');
  t.match(form.body, 'value="smtp.exemple.fr"');
  t.match(form.body, /id="departments-vente" name="departments" value="vente" checked/);
  t.match(form.body, `<input type="hidden" name="duplicateOf" value="${source!.id}">`);
  t.match(form.body, '<form id="server-form" class="server-form" method="post" action="/smtp-servers"');
  t.match(text(form.body), 'Créer le serveur');
  t.match(text(form.body), 'rien n’est enregistré avant « Créer le serveur »');
  t.notMatch(form.body, validServer.password);
  t.equal((await app.repositories.smtpServers.listServers()).total, 1, 'opening the copy saved nothing');
  t.equal((await app.repositories.audit.list()).total, auditBefore, 'nor wrote to the audit trail');
  t.equal((await client.get('/smtp-servers/new?from=999')).statusCode, 404);

  // A copy towards another host needs its own password.
  const elsewhere = await client.post('/smtp-servers', { ...validServer, title: 'Vente principale (copie)', host: 'smtp2.exemple.fr', password: '', duplicateOf: String(source!.id) });
  t.equal(elsewhere.statusCode, 422);
  t.match(errorOf(elsewhere.body, 'password'), 'Ressaisissez le mot de passe');
  t.match(elsewhere.body, `name="duplicateOf" value="${source!.id}"`, 'the form stays a copy');
  t.equal((await app.repositories.smtpServers.listServers()).total, 1);

  // The same path reuses the stored password.
  const created = await client.post('/smtp-servers', { ...validServer, title: 'Vente principale (copie)', password: '', duplicateOf: String(source!.id) });
  t.equal(created.statusCode, 303);
  const copy = (await app.repositories.smtpServers.listServers({ q: 'copie' })).rows[0]!;
  t.equal(copy.title, 'Vente principale (copie)');
  t.equal(await app.repositories.smtpServers.revealPassword(copy.id), validServer.password);
  const entry = (await app.repositories.audit.list({ action: 'server.duplicate' })).rows[0];
  t.equal(entry?.summary, 'Vente principale → Vente principale (copie)');

  const second = await client.get(`/smtp-servers/new?from=${source!.id}`);
  t.match(second.body, 'value="Vente principale (copie 2)"', 'a free title');
});

t.test('after « Tester avant d’enregistrer » without JavaScript, the password field asks for the password again', async (t) => {
  const { formFor, startSmtpPeer } = await import('./smtp-peer.js');
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const tested = await client.post('/smtp-servers/new/test', formFor(peer));
  t.equal(tested.statusCode, 200);
  t.match(text(tested.body), 'Connexion réussie');
  t.match(tested.body, /<p class="field-notice" id="password-retype">Ressaisissez le mot de passe/, 'the field says so');
  t.notMatch(tested.body, formFor(peer).password, 'the password stays write-only');
  const htmx = await client.post('/smtp-servers/new/test', formFor(peer), { 'hx-request': 'true', 'hx-target': 'test-result' });
  t.notMatch(htmx.body, 'password-retype', 'with htmx the typed password stays in its field: no notice');
});
