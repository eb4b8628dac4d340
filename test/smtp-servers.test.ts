import fs from 'node:fs';
import { Writable } from 'node:stream';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { adminClient, buildTestApp, seedServers, text, validServer } from './helper.js';

async function onlyServerId(app: FastifyInstance): Promise<number> {
  const { rows } = await app.repositories.smtpServers.listServers();
  if (rows.length !== 1) throw new Error(`expected one server, found ${rows.length}`);
  return rows[0]!.id;
}

const versionIn = (html: string) => /<input type="hidden" name="version" value="(\d+)">/.exec(html)?.[1];

t.test('the list starts empty and invites to add a server', async (t) => {
  const app = await buildTestApp(t);
  const root = await app.inject({ url: '/' });
  t.equal(root.statusCode, 303);
  t.equal(root.headers.location, '/smtp-servers');
  const client = await adminClient(app);
  const res = await client.get('/smtp-servers');
  t.equal(res.statusCode, 200);
  t.match(text(res.body), 'Aucun serveur — Ajouter un serveur');
  t.match(res.body, /<html lang="fr">/);
});

t.test('the table shows the help page columns in order', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1);
  const client = await adminClient(app);
  const res = await client.get('/smtp-servers');
  // One name per sort link (the host and its port share a header cell), then the actions' header.
  const head = /<thead>([\s\S]*?)<\/thead>/.exec(res.body)![1]!;
  const headers = [...head.matchAll(/<a [^>]*>([\s\S]*?)<\/a>|<th scope="col" class="col-links">([^<]*)</g)].map((m) => text(m[1] ?? m[2]!).replace(/[▲▼↕]/g, '').trim());
  t.same(headers, ['ID', 'Titre', 'Hôte', 'Port', 'Authentification', 'Sécurité', 'Mail', 'Nom d’envoi', 'Utilisateur', 'Usage', 'Confirmation', 'Lien(s)']);
  t.match(text(res.body), 'Serveur 001');
  t.match(text(res.body), 'Non confirmé');
});

t.test('creating a server stores it, encrypts the password and redirects with a flash', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const form = await client.get('/smtp-servers/new');
  t.equal(form.statusCode, 200);
  for (const name of ['title', 'host', 'port', 'security', 'authentication', 'email', 'senderName', 'username', 'password', 'usage', 'departments', 'verifyCertificate', 'signature', '_csrf']) {
    t.match(form.body, `name="${name}"`, `the form has a ${name} field`);
  }

  const res = await client.post('/smtp-servers', validServer);
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/smtp-servers');

  const row = (await app.stores.servers.find(await onlyServerId(app)))!;
  t.match(row, { title: 'Vente principale', host: 'smtp.exemple.fr', port: 587, security: 'starttls', usage: 'custom', verifyCertificate: true, confirmationStatus: 'unconfirmed', version: 1 });
  t.match(row.passwordCiphertext, /^v1:[0-9a-f]{12}:/);
  t.not(row.passwordCiphertext, validServer.password);
  t.equal(await app.repositories.smtpServers.revealPassword(row.id), validServer.password);
  t.same(row.departments.map((d) => d.code), ['vente']);

  const list = await client.get('/smtp-servers');
  t.match(text(list.body), 'Le serveur « Vente principale » a été créé.');
  t.match(text(list.body), 'Vente principale');
  const again = await client.get('/smtp-servers');
  t.notMatch(text(again.body), 'a été créé', 'the flash is shown once');

  const audit = (await app.repositories.audit.list({ action: 'server.create' })).rows.map((r) => ({ action: r.action, summary: r.summary }));
  t.same(audit, [{ action: 'server.create', summary: 'Vente principale' }]);
});

t.test('the password never leaves the server: not in pages, not in the database file, not in the log', async (t) => {
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildTestApp(t, { LOG_LEVEL: 'trace' }, { logStream });
  const client = await adminClient(app);
  const secret = 'Unique-Pl41ntext-Marker';
  await client.post('/smtp-servers', { ...validServer, password: secret });
  const id = await onlyServerId(app);
  const pages = [
    await client.get('/smtp-servers'),
    await client.get(`/smtp-servers/${id}/edit`),
    await client.get('/smtp-servers', { 'hx-request': 'true', 'hx-target': 'servers-table' }),
    await client.post(`/smtp-servers/${id}`, { ...validServer, password: '', host: 'bad host' }),
  ];
  for (const page of pages) t.notMatch(page.body, secret, 'no response carries the password');
  const edit = pages[1]!;
  t.match(text(edit.body), 'Mot de passe enregistré');
  t.match(edit.body, /<input id="password" name="password" type="password" value=""/);
  t.match(text(edit.body), 'Effacer le mot de passe enregistré');

  app.database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  for (const file of [app.database.file, `${app.database.file}-wal`]) {
    if (fs.existsSync(file)) t.notOk(fs.readFileSync(file).includes(Buffer.from(secret)), `${file} does not hold the plaintext`);
  }
  t.ok(lines.length > 0, 'the log was written');
  t.notMatch(lines.join(''), secret, 'the log never holds the password');
});

t.test('editing keeps the stored password when the field is blank, replaces or clears it on request', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await client.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);

  let res = await client.post(`/smtp-servers/${id}`, { ...validServer, title: 'Vente Paris', password: '' });
  t.equal(res.statusCode, 303);
  t.equal(await app.repositories.smtpServers.revealPassword(id), validServer.password, 'blank keeps the old password');
  t.equal((await app.repositories.smtpServers.findServer(id))!.title, 'Vente Paris');

  res = await client.post(`/smtp-servers/${id}`, { ...validServer, password: 'N3w-Password!' });
  t.equal(res.statusCode, 303);
  t.equal(await app.repositories.smtpServers.revealPassword(id), 'N3w-Password!');

  res = await client.post(`/smtp-servers/${id}`, { ...validServer, password: '', clearPassword: 'on' });
  t.equal(res.statusCode, 422, 'clearing the password of a server that authenticates is refused');
  t.match(text(res.body), 'Indiquez le mot de passe du compte mail.');
  t.equal(await app.repositories.smtpServers.revealPassword(id), 'N3w-Password!', 'the refused request changed nothing');

  res = await client.post(`/smtp-servers/${id}`, { ...validServer, authentication: 'none', username: '', password: '' });
  t.equal(res.statusCode, 303);
  t.equal(await app.repositories.smtpServers.revealPassword(id), null, 'no authentication keeps no credentials');

  const audit = (await app.repositories.audit.list({ action: 'server.update' })).rows.reverse();
  t.same(audit[0]!.changes, { title: ['Vente principale', 'Vente Paris'] });
  t.same(audit[1]!.changes!.password, ['modifié', 'modifié']);
  t.notMatch(JSON.stringify(audit), 'N3w-Password!', 'the audit trail never holds a password');
});

t.test('changing the mail path puts the server back to unconfirmed', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await client.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);
  await app.stores.confirmations.setServerConfirmation(id, { status: 'confirmed', confirmedAt: new Date() });
  await client.post(`/smtp-servers/${id}`, { ...validServer, signature: 'Nouvelle signature', password: '' });
  t.equal((await app.repositories.smtpServers.findServer(id))!.confirmationStatus, 'confirmed', 'a new signature keeps the proof');
  const retype = await client.post(`/smtp-servers/${id}`, { ...validServer, host: 'smtp2.exemple.fr', password: '' });
  t.equal(retype.statusCode, 422, 'the stored password is not sent to another host unless typed again');
  t.match(text(retype.body), 'Ressaisissez le mot de passe');
  t.equal((await app.repositories.smtpServers.findServer(id))!.host, 'smtp.exemple.fr');
  await client.post(`/smtp-servers/${id}`, { ...validServer, host: 'smtp2.exemple.fr' });
  const server = (await app.repositories.smtpServers.findServer(id))!;
  t.equal(server.confirmationStatus, 'unconfirmed');
  t.equal(server.confirmedAt, null);
});

t.test('each validation rule answers 422 with its message next to its field and writes nothing', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await seedServers(app, 1, () => ({ title: 'Déjà là' }));
  const cases: [string, Record<string, string | string[]>, string, string][] = [
    ['title', { title: '' }, 'title', 'Donnez un titre au serveur.'],
    ['title unique, whatever the case', { title: 'DÉJÀ LÀ' }, 'title', 'Un serveur porte déjà le titre'],
    ['host required', { host: '' }, 'host', 'Indiquez l’hôte SMTP'],
    ['host with a scheme', { host: 'smtp://mail.exemple.fr' }, 'host', 'Indiquez l’hôte sans « smtp:// »'],
    ['host with a path', { host: 'mail.exemple.fr/smtp' }, 'host', 'Indiquez un nom d’hôte ou une adresse IP'],
    ['host with a space', { host: 'mail exemple.fr' }, 'host', 'Indiquez un nom d’hôte ou une adresse IP'],
    ['host too long', { host: `${'a'.repeat(60)}.`.repeat(5) + 'fr' }, 'host', '253 caractères'],
    ['port zero', { port: '0' }, 'port', 'entre 1 et 65535'],
    ['port too large', { port: '65536' }, 'port', 'entre 1 et 65535'],
    ['port not a number', { port: '58x' }, 'port', 'entre 1 et 65535'],
    ['port missing', { port: '' }, 'port', 'Indiquez le port'],
    ['security unknown', { security: 'ssl3' }, 'security', 'Choisissez une sécurité'],
    ['authentication unknown', { authentication: 'kerberos' }, 'authentication', 'Choisissez un mode d’authentification'],
    ['email missing', { email: '' }, 'email', 'Indiquez l’adresse mail d’envoi.'],
    ['email invalid', { email: 'ventes@' }, 'email', 'n’est pas valide'],
    ['email without domain dot', { email: 'ventes exemple.fr' }, 'email', 'n’est pas valide'],
    ['sender name missing', { senderName: '' }, 'senderName', 'Indiquez le nom d’envoi.'],
    ['sender name with a line break', { senderName: 'Vente\r\nBcc: x@y.fr' }, 'senderName', 'ni retour à la ligne'],
    ['username required with a password', { username: '' }, 'username', 'Indiquez l’utilisateur'],
    ['password required on create', { password: '' }, 'password', 'Indiquez le mot de passe'],
    ['usage unknown', { usage: 'tous' }, 'usage', 'Choisissez l’utilisation'],
    ['custom usage needs a department', { usage: 'custom', departments: [] }, 'departments', 'au moins un service'],
    ['unknown department', { usage: 'custom', departments: ['compta'] }, 'departments', 'Service inconnu'],
    ['signature too long', { signature: 'x'.repeat(20_001) }, 'signature', '20000 caractères'],
  ];
  for (const [name, change, field, message] of cases) {
    const res = await client.post('/smtp-servers', { ...validServer, ...change });
    t.equal(res.statusCode, 422, `${name}: 422`);
    const error = new RegExp(`<p class="field-error" id="${field}-error">([^<]*)</p>`).exec(res.body);
    t.ok(error, `${name}: an error is shown by the ${field} field`);
    t.match(error?.[1] ?? '', message.replace(/’/g, '’'), `${name}: the message says what to do`);
    t.match(res.body, new RegExp(`aria-describedby="[^"]*${field}-error`), `${name}: the field points at its error`);
    t.notMatch(res.body, validServer.password, `${name}: the password is not echoed`);
  }
  t.equal((await app.repositories.smtpServers.listServers()).total, 1, 'no invalid submission was written');

  const kept = await client.post('/smtp-servers', { ...validServer, port: '99999', title: 'Garde mes valeurs' });
  t.match(kept.body, 'value="Garde mes valeurs"', 'the values typed are kept');
  t.match(kept.body, 'value="smtp.exemple.fr"');
  t.match(kept.body, /id="title"[^>]*>/);
  t.match(kept.body, /<input id="port"[^>]*aria-invalid="true"/);
});

t.test('a server without authentication needs neither user nor password', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const res = await client.post('/smtp-servers', { ...validServer, authentication: 'none', username: '', password: '', usage: 'default', departments: [] });
  t.equal(res.statusCode, 303);
  const row = (await app.stores.servers.find(await onlyServerId(app)))!;
  t.same([row.authentication, row.username, row.passwordCiphertext, row.usage, row.departments], ['none', '', null, 'default', []]);
});

t.test('htmx gets the form fragment on errors and a redirect header on success', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const htmx = { 'hx-request': 'true', 'hx-target': 'server-form' };
  const bad = await client.post('/smtp-servers', { ...validServer, host: '' }, htmx);
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /^<form id="server-form"/);
  t.notMatch(bad.body, '<html');
  t.match(bad.headers.vary, /HX-Request/);
  const good = await client.post('/smtp-servers', validServer, htmx);
  t.equal(good.statusCode, 200);
  t.equal(good.headers['hx-redirect'], '/smtp-servers');
});

t.test('delete asks for confirmation, then removes the server and its departments', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await client.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);
  const confirm = await client.get(`/smtp-servers/${id}/delete`);
  t.equal(confirm.statusCode, 200);
  t.match(text(confirm.body), 'Supprimer « Vente principale » ?');
  t.match(confirm.body, `action="/smtp-servers/${id}/delete"`);
  t.equal((await app.repositories.smtpServers.listServers()).total, 1, 'looking at the confirmation deletes nothing');
  const res = await client.post(`/smtp-servers/${id}/delete`);
  t.equal(res.statusCode, 303);
  t.equal((await app.repositories.smtpServers.listServers()).total, 0);
  t.equal(await app.stores.servers.find(id), null, 'the server and its departments are gone');
  const list = await client.get('/smtp-servers');
  t.match(text(list.body), 'Le serveur « Vente principale » a été supprimé.');
  t.equal((await client.post(`/smtp-servers/${id}/delete`)).statusCode, 404, 'deleting twice is a 404');
});

t.test('unknown ids get a 404 page, never a crash', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  for (const url of ['/smtp-servers/999/edit', '/smtp-servers/abc/edit', '/smtp-servers/0/delete', '/smtp-servers/1e3/edit', '/nulle-part']) {
    const res = await client.get(url);
    t.equal(res.statusCode, 404, url);
    t.match(text(res.body), 'Page introuvable');
  }
  t.equal((await client.post('/smtp-servers/999', validServer)).statusCode, 404);
  t.equal((await client.post('/smtp-servers/999/duplicate')).statusCode, 404);
});

t.test('every POST needs the CSRF token; without it nothing changes', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  await client.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);
  const attempts: [string, Record<string, string | string[]>][] = [
    ['/smtp-servers', { ...validServer, title: 'Pirate' }],
    [`/smtp-servers/${id}`, { ...validServer, title: 'Pirate' }],
    [`/smtp-servers/${id}/duplicate`, {}],
    [`/smtp-servers/${id}/delete`, {}],
    ['/smtp-servers/columns', { columns: 'id' }],
  ];
  for (const [url, fields] of attempts) {
    for (const token of ['', 'forged-token']) {
      const res = await client.post(url, { ...fields, _csrf: token });
      t.equal(res.statusCode, 403, `${url} with ${token || 'no'} token`);
      t.match(text(res.body), 'Rien n’a été modifié'.replace('Rien n’a été modifié', 'rien n’a été modifié'));
    }
  }
  const stranger = await adminClient(app); // another signed-in browser, with its own CSRF secret
  const res = await stranger.post('/smtp-servers', { ...validServer, title: 'Pirate', _csrf: client.csrfToken });
  t.equal(res.statusCode, 403, "another browser's token is refused");
  t.same((await app.repositories.smtpServers.listServers()).rows.map((r) => r.title), ['Vente principale']);

  const viaHeader = await app.inject({
    method: 'POST',
    url: `/smtp-servers/${id}/duplicate`,
    headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': client.csrfToken, 'hx-request': 'true' },
  });
  t.equal(viaHeader.statusCode, 200, 'htmx may send the token as a header');
  t.ok(viaHeader.headers['hx-redirect']);
});

t.test('oversized bodies get a clear 413 page', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const res = await client.post('/smtp-servers', { ...validServer, signature: 'x'.repeat(300 * 1024) });
  t.equal(res.statusCode, 413);
  t.match(text(res.body), 'Envoi trop volumineux');
  t.notMatch(res.body, /at .*\.ts:\d+/, 'no stack trace');
});

t.test('when a blank password field may reuse the stored password', async (t) => {
  const { storedPasswordStillApplies } = await import('../src/smtp-servers/validation.js');
  const stored = { host: 'smtp.exemple.fr', port: 587, security: 'starttls' as const, username: 'u', verifyCertificate: true };
  t.ok(storedPasswordStillApplies(stored, { ...stored }));
  t.ok(storedPasswordStillApplies(stored, { ...stored, host: 'SMTP.exemple.fr' }), 'host case does not matter');
  t.ok(storedPasswordStillApplies(stored, { ...stored, security: 'tls' }), 'STARTTLS to TLS keeps encryption');
  t.notOk(storedPasswordStillApplies(stored, { ...stored, security: 'none' }), 'no encryption any more');
  t.notOk(storedPasswordStillApplies(stored, { ...stored, verifyCertificate: false }), 'certificate no longer checked');
  t.ok(storedPasswordStillApplies({ ...stored, verifyCertificate: false }, { ...stored, verifyCertificate: true }));
  t.notOk(storedPasswordStillApplies(stored, { ...stored, port: 465 }));
  t.notOk(storedPasswordStillApplies(stored, { ...stored, host: 'evil.example' }));
  t.notOk(storedPasswordStillApplies(stored, { ...stored, username: 'v' }));
});

t.test('input that once broke things: control characters, odd separators, non-ASCII next, long titles', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 2);
  const client = await adminClient(app);
  for (const url of ['/smtp-servers?q=abc%00', '/smtp-servers?q=a%00b&sort=host', '/smtp-servers/export.csv?q=%00%00%00', '/smtp-servers/export.csv?sep=__proto__', '/smtp-servers/export.csv?sep=constructor', '/smtp-servers?q[]=x&per=abc&page=1e9']) {
    const res = await client.get(url);
    t.equal(res.statusCode, 200, url);
  }
  const csv = await client.get('/smtp-servers/export.csv?sep=__proto__');
  t.match(csv.body.split('\n')[0], ';', 'an unknown separator name falls back to the language default');
  const language = await client.get('/language?lang=en&next=/%E2%82%AC');
  t.equal(language.statusCode, 303);
  t.equal(language.headers.location, '/%E2%82%AC');
  await client.get('/language?lang=fr');

  const long = await client.post('/smtp-servers', { ...validServer, title: 'T'.repeat(120) });
  t.equal(long.statusCode, 303);
  const id = (await app.repositories.smtpServers.listServers({ q: 'ttt' })).rows[0]!.id;
  const copy = await client.get(`/smtp-servers/new?from=${id}`);
  const copiedTitle = /<input id="title" name="title" type="text" value="([^"]*)"/.exec(copy.body)![1]!;
  t.equal([...copiedTitle].length, 120, 'the copy still fits the title limit');
  t.match(copiedTitle, / \(copie\)$/);
  const resave = await client.post('/smtp-servers', { ...validServer, title: copiedTitle, password: '', duplicateOf: String(id) });
  t.equal(resave.statusCode, 303, 'and can be saved as it is');

  const controlled = await client.post('/smtp-servers', { ...validServer, title: 'Ligne\u0000cachée' });
  t.equal(controlled.statusCode, 422);
  t.match(text(controlled.body), 'Le titre ne peut contenir ni retour à la ligne');

  const edit = await client.post(`/smtp-servers/${id}`, { ...validServer, title: '' });
  t.match(edit.body, `next=${encodeURIComponent(`/smtp-servers/${id}/edit`)}`, 'after a refused POST the language link names the form page');
});

t.test('an edit based on a version someone else has replaced is refused with the form kept, and can then be saved', async (t) => {
  const app = await buildTestApp(t);
  const alice = await adminClient(app);
  const bob = await adminClient(app);
  await alice.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);
  const aliceForm = await alice.get(`/smtp-servers/${id}/edit`);
  const bobForm = await bob.get(`/smtp-servers/${id}/edit`);
  t.equal(versionIn(aliceForm.body), '1', 'the form carries the version it shows');

  const saved = await alice.post(`/smtp-servers/${id}`, { ...validServer, password: '', senderName: 'Alice', version: versionIn(aliceForm.body)! });
  t.equal(saved.statusCode, 303);
  const late = await bob.post(`/smtp-servers/${id}`, { ...validServer, password: '', senderName: 'Bob', version: versionIn(bobForm.body)! });
  t.equal(late.statusCode, 409, 'not a 500, not a silent overwrite');
  t.match(text(late.body), 'Ce serveur a été modifié par quelqu’un d’autre pendant que vous le modifiiez : rien n’a été enregistré.');
  t.match(late.body, /<input id="senderName" name="senderName" type="text" value="Bob"/, 'the values typed are kept');
  t.equal(versionIn(late.body), '2', 'the form now stands on the version saved meanwhile');
  const server = (await app.repositories.smtpServers.findServer(id))!;
  t.match(server, { senderName: 'Alice', version: 2 }, 'the refused edit changed nothing');
  t.equal((await app.repositories.audit.list({ action: 'server.update' })).total, 1);

  const invalid = await bob.post(`/smtp-servers/${id}`, { ...validServer, password: '', host: 'bad host', version: versionIn(late.body)! });
  t.equal(invalid.statusCode, 422);
  t.equal(versionIn(invalid.body), '2', 'a form sent back with errors keeps the version it was filled from');

  const again = await bob.post(`/smtp-servers/${id}`, { ...validServer, password: '', senderName: 'Bob', version: versionIn(late.body)! });
  t.equal(again.statusCode, 303, 'saving again, knowingly, replaces the other change');
  t.match(await app.repositories.smtpServers.findServer(id), { senderName: 'Bob', version: 3 });
  t.equal((await bob.post(`/smtp-servers/${id}`, { ...validServer, password: '', version: 'abc' })).statusCode, 409, 'a garbled version never matches');
});

t.test('an edit of a server deleted meanwhile says so, and creates nothing', async (t) => {
  const app = await buildTestApp(t);
  const alice = await adminClient(app);
  const bob = await adminClient(app);
  await alice.post('/smtp-servers', validServer);
  const id = await onlyServerId(app);
  const form = await bob.get(`/smtp-servers/${id}/edit`);
  await alice.post(`/smtp-servers/${id}/delete`);
  const res = await bob.post(`/smtp-servers/${id}`, { ...validServer, password: '', version: versionIn(form.body)! });
  t.equal(res.statusCode, 404);
  t.match(text(res.body), 'Ce serveur a été supprimé pendant que vous le modifiiez : vos modifications n’ont pas été enregistrées.');
  t.equal((await app.repositories.smtpServers.listServers()).total, 0);
});
