import t from 'tap';
import { adminClient, auditTrail, buildTestApp, Client, createAccount, signIn, testPassword, text, viewerClient } from './helper.js';

t.test('an administrator lists and creates users; the password is hashed and never recorded', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const list = await admin.get('/users');
  t.equal(list.statusCode, 200);
  t.match(text(list.body), 'Admin 1 (vous) admin1@relais.test Administrateur Actif');

  const form = await admin.get('/users/new');
  t.equal(form.statusCode, 200);
  for (const field of ['email', 'displayName', 'role', 'password', 'passwordConfirm', '_csrf']) t.match(form.body, `name="${field}"`);

  const password = 'bienvenue chez Relais, Zoé';
  const res = await admin.post('/users', { email: ' Zoe@Exemple.fr ', displayName: 'Zoé Martin', role: 'viewer', password, passwordConfirm: password });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/users');
  const row = await app.stores.users.findWithHash('zoe@exemple.fr');
  t.match(row, { displayName: 'Zoé Martin', role: 'viewer', disabled: false });
  t.match(row!.passwordHash, /^scrypt\$ln=10,r=8,p=1\$/);
  t.notMatch(row!.passwordHash, password);
  const after = await admin.get('/users');
  t.match(text(after.body), 'Le compte de Zoé Martin a été créé.');
  t.match(text(after.body), 'Zoé Martin zoe@exemple.fr Lecture seule Actif');

  const [created] = (await auditTrail(app, 'user.create')).filter((r) => r.summary === 'zoe@exemple.fr');
  t.equal(created!.actor, 'admin1@relais.test');
  t.same(created!.changes, {
    email: [null, 'zoe@exemple.fr'],
    displayName: [null, 'Zoé Martin'],
    role: [null, 'viewer'],
    password: [null, 'modifié'],
  });
  t.notMatch(JSON.stringify(await auditTrail(app)), password, 'the audit trail holds no password');

  const zoe = new Client(app);
  await signIn(zoe, 'zoe@exemple.fr', password);
  t.equal((await zoe.get('/smtp-servers')).statusCode, 200, 'the new user signs in');
});

t.test('the user form answers 422 with each message by its field', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const bad = await admin.post('/users', { email: 'pas-une-adresse', displayName: '', role: 'root', password: 'trop court', passwordConfirm: 'trop court' });
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /<p class="field-error" id="email-error">Cette adresse mail n’est pas valide/);
  t.match(bad.body, /<p class="field-error" id="displayName-error">Indiquez le nom\./);
  t.match(bad.body, /<p class="field-error" id="role-error">Choisissez un rôle/);
  t.match(bad.body, /<p class="field-error" id="password-error">Le mot de passe doit compter au moins 12 caractères\./);
  t.match(bad.body, /id="email"[^>]*aria-invalid="true" aria-describedby="email-hint email-error"/);
  t.match(bad.body, 'value="pas-une-adresse"', 'the values are kept');
  t.notMatch(bad.body, 'value="trop court"', 'the password is not');

  const taken = await admin.post('/users', { email: 'ADMIN1@relais.test', displayName: 'Double', role: 'viewer', password: testPassword, passwordConfirm: testPassword });
  t.equal(taken.statusCode, 422);
  t.match(taken.body, /id="email-error">Un compte utilise déjà l’adresse admin1@relais\.test\./);
  t.equal(await app.repositories.users.countUsers(), 1);
});

t.test('changing a role or a name is recorded with the changed fields only', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const viewer = await createAccount(app, 'viewer');
  const edit = await admin.get(`/users/${viewer.id}/edit`);
  t.equal(edit.statusCode, 200);
  t.match(edit.body, 'value="viewer2@relais.test"');
  t.match(edit.body, `action="/users/${viewer.id}/password"`, 'the reset form is on the page');
  t.match(text(edit.body), 'Connecté : Admin 1', 'the header still shows who is signed in');

  const res = await admin.post(`/users/${viewer.id}`, { email: 'viewer2@relais.test', displayName: 'Lectrice', role: 'admin' });
  t.equal(res.statusCode, 303);
  t.match(await app.repositories.users.findUser(viewer.id), { displayName: 'Lectrice', role: 'admin' });
  const [update] = await auditTrail(app, 'user.update');
  t.equal(update!.targetId, String(viewer.id));
  t.same(update!.changes, { displayName: ['Lecteur 2', 'Lectrice'], role: ['viewer', 'admin'] });

  const unchanged = await admin.post(`/users/${viewer.id}`, { email: 'viewer2@relais.test', displayName: 'Lectrice', role: 'admin' });
  t.equal(unchanged.statusCode, 303);
  t.equal((await auditTrail(app, 'user.update')).length, 1, 'saving without a change records nothing');
});

t.test('the last active administrator can be neither demoted nor disabled', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const me = (await app.repositories.users.findUserByEmail('admin1@relais.test'))!.id;
  const demote = await admin.post(`/users/${me}`, { email: 'admin1@relais.test', displayName: 'Admin 1', role: 'viewer' });
  t.equal(demote.statusCode, 422);
  t.match(demote.body, /id="role-error">C’est le dernier administrateur actif/);
  const disable = await admin.post(`/users/${me}`, { email: 'admin1@relais.test', displayName: 'Admin 1', role: 'admin', disabled: 'on' });
  t.equal(disable.statusCode, 422);
  t.match(disable.body, /id="disabled-error">C’est le dernier administrateur actif/);
  t.match(await app.repositories.users.findUser(me), { role: 'admin', disabled: false });

  // A disabled administrator does not count: with one, the active one is still the last.
  const dormant = await createAccount(app, 'admin');
  await app.stores.users.update(dormant.id, { email: dormant.email, displayName: dormant.displayName, role: 'admin', disabled: true }, new Date());
  t.equal((await admin.post(`/users/${me}`, { email: 'admin1@relais.test', displayName: 'Admin 1', role: 'viewer' })).statusCode, 422);

  // With another active administrator, demoting oneself is allowed and lands on a page a viewer may see.
  const other = await createAccount(app, 'admin');
  const ok = await admin.post(`/users/${me}`, { email: 'admin1@relais.test', displayName: 'Admin 1', role: 'viewer' });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/smtp-servers');
  t.equal((await admin.get('/users')).statusCode, 403, 'the role change applies at once');
  t.ok(other);
});

t.test('disabling through the page ends the sessions; a reset password ends them too', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const viewer = await viewerClient(app);
  const viewerId = (await app.repositories.users.findUserByEmail('viewer2@relais.test'))!.id;

  const newPassword = 'mot de passe remis par l’admin';
  const badReset = await admin.post(`/users/${viewerId}/password`, { password: 'qwertyuiop123', passwordConfirm: 'qwertyuiop123' });
  t.equal(badReset.statusCode, 422);
  t.match(badReset.body, /id="reset-password-error">Ce mot de passe est trop courant/);
  const reset = await admin.post(`/users/${viewerId}/password`, { password: newPassword, passwordConfirm: newPassword });
  t.equal(reset.statusCode, 303);
  t.equal(reset.headers.location, '/users');
  t.match(text((await admin.get('/users')).body), 'Le mot de passe de Lecteur 2 a été réinitialisé');
  t.equal((await viewer.get('/smtp-servers')).statusCode, 303, 'the reset closed the viewer’s session');
  const [resetRow] = await auditTrail(app, 'user.passwordReset');
  t.same(resetRow!.changes, { password: ['modifié', 'modifié'] });
  t.equal(resetRow!.actor, 'admin1@relais.test');

  await signIn(viewer, 'viewer2@relais.test', newPassword);
  const res = await admin.post(`/users/${viewerId}`, { email: 'viewer2@relais.test', displayName: 'Lecteur 2', role: 'viewer', disabled: 'on' });
  t.equal(res.statusCode, 303);
  t.match(text((await admin.get('/users')).body), 'Le compte de Lecteur 2 est désactivé ; ses sessions ont été fermées.');
  t.equal((await viewer.get('/smtp-servers')).statusCode, 303);
  const [disable] = await auditTrail(app, 'user.update');
  t.same(disable!.changes, { disabled: [false, true] });
  t.notMatch(JSON.stringify(await auditTrail(app)), newPassword);

  const enable = await admin.post(`/users/${viewerId}`, { email: 'viewer2@relais.test', displayName: 'Lecteur 2', role: 'viewer' });
  t.equal(enable.statusCode, 303);
  await signIn(new Client(app), 'viewer2@relais.test', newPassword);
});

t.test('unknown users get a 404 page', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  for (const url of ['/users/999/edit', '/users/abc/edit', '/users/0/edit']) t.equal((await admin.get(url)).statusCode, 404, url);
  t.equal((await admin.post('/users/999', { email: 'x@relais.test', displayName: 'X', role: 'viewer' })).statusCode, 404);
  t.equal((await admin.post('/users/999/password', { password: testPassword, passwordConfirm: testPassword })).statusCode, 404);
});
