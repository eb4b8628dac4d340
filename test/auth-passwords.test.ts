import t from 'tap';
import { hashPassword, needsRehash, scryptParams, verifyPassword } from '../src/auth/password.js';
import { checkPassword, commonPasswords } from '../src/auth/password-rules.js';
import { loadConfig } from '../src/config.js';
import { adminClient, auditTrail, buildTestApp, Client, createAccount, signIn, testPassword, text } from './helper.js';

t.test('the default cost is OWASP’s scrypt minimum, and it really runs (N=2^17 needs more than Node’s default maxmem)', async (t) => {
  const config = loadConfig({ NODE_ENV: 'production' });
  t.equal(config.passwordHashCost, 17);
  const hash = await hashPassword('correct horse battery staple', scryptParams(config.passwordHashCost));
  t.match(hash, /^scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  t.equal(await verifyPassword('correct horse battery staple', hash), true);
  t.equal(await verifyPassword('correct horse battery stapler', hash), false);
});

t.test('a lower cost is for the test suite only', async (t) => {
  t.throws(() => loadConfig({ RELAIS_PASSWORD_HASH_COST: '10' }), /only for the test suite/);
  t.throws(() => loadConfig({ NODE_ENV: 'development', RELAIS_PASSWORD_HASH_COST: '16' }), /only for the test suite/);
  t.equal(loadConfig({ NODE_ENV: 'test', RELAIS_PASSWORD_HASH_COST: '10' }).passwordHashCost, 10);
  t.equal(loadConfig({ RELAIS_PASSWORD_HASH_COST: '18' }).passwordHashCost, 18, 'stronger is always allowed');
  t.throws(() => loadConfig({ RELAIS_PASSWORD_HASH_COST: '17.5' }), /integer/);
});

t.test('hashes carry their parameters; two hashes of one password differ; malformed hashes never match', async (t) => {
  const params = scryptParams(10);
  const a = await hashPassword('même mot de passe ici', params);
  const b = await hashPassword('même mot de passe ici', params);
  t.not(a, b, 'a random salt each time');
  t.equal(await verifyPassword('même mot de passe ici', a), true);
  t.equal(await verifyPassword('me\u0302me mot de passe ici', a), true, 'Unicode is normalised (NFC) before hashing');
  for (const bad of ['', 'plain', 'scrypt$ln=10,r=8,p=1$AAAA$AAAA', 'bcrypt$2b$10$xxxx', 'scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']) {
    t.equal(await verifyPassword('anything', bad), false, `"${bad}" matches nothing`);
  }
  t.equal(needsRehash(a, scryptParams(10)), false);
  t.equal(needsRehash(a, scryptParams(11)), true);
});

t.test('a hash made with weaker parameters is upgraded at the next sign-in', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'viewer');
  const weak = await hashPassword(testPassword, scryptParams(8));
  await app.stores.users.setPasswordHash(user.id, weak);
  await signIn(new Client(app), user.email);
  t.match(await app.stores.users.passwordHashOf(user.id), /^scrypt\$ln=10,r=8,p=1\$/);
  await signIn(new Client(app), user.email);
});

t.test('password rules: 12 to 128 characters, not common, not guessable, not personal', async (t) => {
  t.ok(commonPasswords().size >= 3000, `${commonPasswords().size} common passwords shipped`);
  t.ok(commonPasswords().has('azerty') && commonPasswords().has('motdepasse') && commonPasswords().has('qwertyuiop'));
  const cases: [string, string | null][] = [
    ['', 'error.account.password.required'],
    ['Court-1!', 'error.account.password.tooShort'],
    ['onze carac.', 'error.account.password.tooShort'],
    ['x'.repeat(121) + ' abcdefg', 'error.account.password.tooLong'],
    ['password1234', 'error.account.password.common'],
    ['Password1234!', 'error.account.password.common'],
    ['P@ssw0rd2024!', 'error.account.password.common'],
    ['azertyuiop123', 'error.account.password.common'],
    ['Soleil2024!!!', 'error.account.password.common'],
    ['motdepasse123456', 'error.account.password.common'],
    ['123456789012', 'error.account.password.common'],
    ['abcdefghijklm', 'error.account.password.common'],
    ['aaaaaaaaaaaaaaaa', 'error.account.password.common'],
    ['abcabcabcabc', 'error.account.password.common'],
    ['monkeymonkey12', 'error.account.password.common'],
    ['1q2w3e4r5t6y', 'error.account.password.common'],
    ['qwertyuiopasdfgh', 'error.account.password.common'],
    ['iloveyou iloveyou', 'error.account.password.common'],
    ['Relais2024!!!!', 'error.account.password.common'],
    ['jean.dupont-2024!', 'error.account.password.personal'],
    ['cheval agrafe pile correcte', null],
    ['Ma tante Lucie boit du thé vert', null],
    ['9f#Kq2!vLm@x', null],
    ['été à la plage 🌊 bleue', null],
    ['🔑🚪🌲🐻🍯🐝🌻☀️🌧️🌈🦋🐞', null],
    ['x'.repeat(120) + ' abcdef', null],
  ];
  for (const [password, expected] of cases) {
    t.equal(checkPassword(password, { email: 'jean.dupont@exemple.fr', displayName: 'Jean Dupont' }), expected, JSON.stringify(password));
  }
  t.equal(checkPassword('Jean Dupont chez lui', { displayName: 'Jean Dupont' }), 'error.account.password.personal');
  t.equal([...'🔑🚪🌲🐻🍯🐝🌻☀️🌧️🌈🦋🐞'].length >= 12, true, 'length counts characters, not UTF-16 units');
});

t.test('each user changes their own password, giving the current one', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'viewer');
  const client = new Client(app);
  await signIn(client, user.email);
  const elsewhere = new Client(app);
  await signIn(elsewhere, user.email);

  const page = await client.get('/account/password');
  t.equal(page.statusCode, 200);
  for (const field of ['currentPassword', 'password', 'passwordConfirm']) t.match(page.body, `name="${field}"`);
  t.match(text(page.body), '12 à 128 caractères', 'the rules are shown as a hint');
  t.match(page.body, 'data-password-meter=', 'with a live length meter when JavaScript runs');

  const newPassword = 'un nouveau mot de passe solide';
  const wrong = await client.post('/account/password', { currentPassword: 'not my password at all', password: newPassword, passwordConfirm: newPassword });
  t.equal(wrong.statusCode, 422);
  t.match(wrong.body, /<p class="field-error" id="currentPassword-error">Le mot de passe actuel est incorrect\.<\/p>/);
  t.notMatch(wrong.body, newPassword, 'no password is echoed');

  const mismatch = await client.post('/account/password', { currentPassword: testPassword, password: newPassword, passwordConfirm: 'autre chose' });
  t.equal(mismatch.statusCode, 422);
  t.match(mismatch.body, /id="passwordConfirm-error">Les deux mots de passe ne sont pas identiques\./);

  const common = await client.post('/account/password', { currentPassword: testPassword, password: 'azertyuiop123', passwordConfirm: 'azertyuiop123' });
  t.equal(common.statusCode, 422);
  t.match(common.body, /id="password-error">Ce mot de passe est trop courant/);

  const same = await client.post('/account/password', { currentPassword: testPassword, password: testPassword, passwordConfirm: testPassword });
  t.equal(same.statusCode, 422);
  t.match(text(same.body), 'Le nouveau mot de passe doit être différent de l’actuel.');

  const ok = await client.post('/account/password', { currentPassword: testPassword, password: newPassword, passwordConfirm: newPassword });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/account/password');
  t.match(text((await client.get('/account/password')).body), 'Votre mot de passe a été changé.');
  t.equal((await client.get('/smtp-servers')).statusCode, 200, 'this session goes on');
  t.equal((await elsewhere.get('/smtp-servers')).statusCode, 303, 'the other sessions were closed');

  const oldLogin = new Client(app);
  await oldLogin.get('/login');
  t.equal((await oldLogin.post('/login', { email: user.email, password: testPassword })).statusCode, 401, 'the old password no longer works');
  t.equal((await oldLogin.post('/login', { email: user.email, password: newPassword })).statusCode, 303, 'the new one does');

  const audit = (await auditTrail(app, 'user.passwordChange')).map((r) => ({ userId: r.userId, changes: r.changes }));
  t.same(audit, [{ userId: user.id, changes: { password: ['modifié', 'modifié'] } }]);
  t.notMatch(JSON.stringify(await auditTrail(app)), newPassword);
});

t.test('guessing the current password from an open session is throttled', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const fresh = 'une toute nouvelle phrase secrète';
  for (let i = 0; i < 5; i++) {
    t.equal((await admin.post('/account/password', { currentPassword: `guess number ${i}`, password: fresh, passwordConfirm: fresh })).statusCode, 422);
  }
  const blocked = await admin.post('/account/password', { currentPassword: testPassword, password: fresh, passwordConfirm: fresh });
  t.equal(blocked.statusCode, 429);
  t.match(text(blocked.body), 'Réessayez dans 15 minutes.');
});
