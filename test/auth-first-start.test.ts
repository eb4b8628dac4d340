import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { auditTrail, buildTestApp, Client, signIn, testConfig, text } from './helper.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function logCollector() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

/** Starts the app again on the same database file, as a restart would. */
async function restart(t: Test, dir: string, env: Record<string, string> = {}) {
  const log = logCollector();
  const config = testConfig(dir, env);
  const app = await buildApp(config, { logStream: log.stream });
  t.teardown(() => app.close());
  return { app, log: log.lines };
}

const setupLink = (lines: string[]) => /http:\/\/relais\.test\/setup\/([A-Za-z0-9_-]{43})/.exec(lines.join(''))?.[1];

t.test('RELAIS_ADMIN_EMAIL and RELAIS_ADMIN_PASSWORD create the first administrator, once', async (t) => {
  const env = { RELAIS_ADMIN_EMAIL: 'Chef@Exemple.fr', RELAIS_ADMIN_PASSWORD: 'le relais des serveurs sortants' };
  const dir = t.testdir();
  const first = await restart(t, dir, env);
  const users = await first.app.repositories.users.listUsers();
  t.equal(users.length, 1);
  t.match(users[0], { email: 'chef@exemple.fr', displayName: 'chef', role: 'admin', disabled: false });
  const hash = await first.app.stores.users.passwordHashOf(users[0]!.id);
  t.match(hash, /^scrypt\$ln=10,r=8,p=1\$/);
  t.notMatch(first.log.join(''), env.RELAIS_ADMIN_PASSWORD, 'the password is not logged');
  t.notOk(setupLink(first.log), 'no setup link when the administrator is given');
  t.equal(await first.app.stores.setupTokens.countUnused(), 0);

  const client = new Client(first.app);
  await signIn(client, 'chef@exemple.fr', env.RELAIS_ADMIN_PASSWORD);
  t.equal((await client.get('/users')).statusCode, 200, 'the first administrator can manage users');
  await first.app.close();

  const second = await restart(t, dir, { ...env, RELAIS_ADMIN_PASSWORD: 'a different passphrase entirely' });
  const after = await second.app.repositories.users.listUsers();
  t.same(after.map((u) => u.email), ['chef@exemple.fr'], 'a restart creates nobody');
  t.equal(await second.app.stores.users.passwordHashOf(after[0]!.id), hash, 'and changes no password');
});

t.test('a weak or incomplete RELAIS_ADMIN_* refuses to start', async (t) => {
  await t.rejects(restart(t, t.testdir(), { RELAIS_ADMIN_EMAIL: 'chef@exemple.fr', RELAIS_ADMIN_PASSWORD: 'short' }), /RELAIS_ADMIN_PASSWORD is refused/);
  await t.rejects(restart(t, t.testdir(), { RELAIS_ADMIN_EMAIL: 'chef@exemple.fr', RELAIS_ADMIN_PASSWORD: 'password1234567' }), /RELAIS_ADMIN_PASSWORD is refused/);
  await t.rejects(restart(t, t.testdir(), { RELAIS_ADMIN_EMAIL: 'chef@exemple.fr' }), /must be set together/);
  await t.rejects(restart(t, t.testdir(), { RELAIS_ADMIN_EMAIL: 'not-an-email', RELAIS_ADMIN_PASSWORD: 'le relais des serveurs sortants' }), /not a valid email/);
});

t.test('without them, the log gives a one-time setup link that creates the first administrator', async (t) => {
  const dir = t.testdir();
  const { app, log } = await restart(t, dir);
  const token = setupLink(log);
  t.ok(token, 'the log holds the setup link');
  t.match(log.join(''), /"level":40/, 'logged as a warning, so it shows at any usual level');
  t.equal(await app.stores.setupTokens.isUnused(sha256(token!)), true, 'only the hash is stored');
  t.equal(await app.stores.setupTokens.isUnused(token!), false, 'never the token itself');

  const login = await app.inject({ url: '/login' });
  t.match(text(login.body), 'Aucun compte n’existe encore', 'the login page says how to start');

  const client = new Client(app);
  const page = await client.get(`/setup/${token}`);
  t.equal(page.statusCode, 200);
  for (const field of ['email', 'displayName', 'password', 'passwordConfirm', '_csrf']) t.match(page.body, `name="${field}"`);

  const invalid = await client.post(`/setup/${token}`, { email: 'chef', displayName: '', password: 'azerty123456', passwordConfirm: 'azerty123456' });
  t.equal(invalid.statusCode, 422);
  t.match(invalid.body, /<p class="field-error" id="email-error">Cette adresse mail n’est pas valide/);
  t.match(invalid.body, /<p class="field-error" id="displayName-error">Indiquez le nom\./);
  t.match(invalid.body, /<p class="field-error" id="password-error">Ce mot de passe est trop courant/);
  t.match(invalid.body, /id="password"[^>]*aria-invalid="true"/);
  t.notMatch(invalid.body, 'value="azerty123456"', 'the password is not echoed');
  t.equal(await app.repositories.users.countUsers(), 0);

  const one = await client.post(`/setup/${token}`, { email: 'chef', displayName: 'Ada', password: 'premier administrateur du relais', passwordConfirm: 'premier administrateur du relais' });
  t.equal(one.statusCode, 422);
  t.match(text(one.body), 'Le formulaire contient une erreur. Corrigez le champ signalé.', 'one error, said in the singular');

  // A common password and a confirmation that differs: both said at once, in the summary and by each field.
  const both = await client.post(`/setup/${token}`, { email: 'ada@exemple.fr', displayName: 'Ada', password: 'azerty123456', passwordConfirm: 'azerty12345' });
  t.equal(both.statusCode, 422);
  t.match(both.body, /<p class="field-error" id="password-error">Ce mot de passe est trop courant/);
  t.match(both.body, /<p class="field-error" id="passwordConfirm-error">Les deux mots de passe ne sont pas identiques\./);
  t.match(text(both.body), '2 erreurs');
  t.match(both.body, /<a href="#password">[^<]+<\/a><\/li><li><a href="#passwordConfirm">/, 'the summary links to both fields');
  t.match(both.body, 'value="ada@exemple.fr"', 'what was right is kept');
  t.same(await app.repositories.users.listUsers(), [], 'no account was created');

  const passphrase = 'premier administrateur du relais';
  const created = await client.post(`/setup/${token}`, { email: 'Ada@Exemple.fr', displayName: 'Ada', password: passphrase, passwordConfirm: passphrase });
  t.equal(created.statusCode, 303);
  t.equal(created.headers.location, '/smtp-servers');
  const home = await client.get('/smtp-servers');
  t.equal(home.statusCode, 200, 'the new administrator is signed in');
  t.match(text(home.body), 'Compte administrateur créé. Bienvenue, Ada.');
  t.match(await app.repositories.users.listUsers(), [{ email: 'ada@exemple.fr', role: 'admin' }]);
  t.equal(await app.stores.setupTokens.isUnused(sha256(token!)), false, 'the token is spent');
  const [audit] = await auditTrail(app, 'user.create');
  t.equal(audit!.actor, 'ada@exemple.fr');
  t.notMatch(JSON.stringify(audit!.changes), passphrase);

  const reuse = await new Client(app).get(`/setup/${token}`);
  t.equal(reuse.statusCode, 404, 'the link works once');
  t.match(text(reuse.body), 'Lien de première installation non valable');
  const repost = await client.post(`/setup/${token}`, { email: 'eve@exemple.fr', displayName: 'Eve', password: passphrase, passwordConfirm: passphrase });
  t.equal(repost.statusCode, 404);
  t.equal(await app.repositories.users.countUsers(), 1, 'nobody else was created');
  await app.close();

  const again = await restart(t, dir);
  t.notOk(setupLink(again.log), 'once an account exists, no link is logged');
});

t.test('each start without an account issues a new link and retires the earlier one', async (t) => {
  const dir = t.testdir();
  const first = await restart(t, dir);
  const oldToken = setupLink(first.log)!;
  await first.app.close();
  const second = await restart(t, dir);
  const newToken = setupLink(second.log)!;
  t.not(newToken, oldToken);
  t.equal((await second.app.inject({ url: `/setup/${oldToken}` })).statusCode, 404);
  t.equal((await second.app.inject({ url: `/setup/${newToken}` })).statusCode, 200);
  t.equal((await second.app.inject({ url: '/setup/forged-token-forged-token-forged-token-xx' })).statusCode, 404);
});

t.test('the test helper starts with no account and a setup link', async (t) => {
  const app = await buildTestApp(t);
  t.equal(await app.repositories.users.countUsers(), 0);
  t.equal(await app.stores.setupTokens.countUnused(), 1);
});
