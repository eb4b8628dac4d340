import { createHash } from 'node:crypto';
import t from 'tap';
import { adminClient, auditTrail, buildTestApp, Client, createAccount, signIn, testPassword, text, viewerClient } from './helper.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function setCookieLines(res: { headers: Record<string, unknown> }): string[] {
  const raw = res.headers['set-cookie'];
  return Array.isArray(raw) ? raw.map(String) : raw ? [String(raw)] : [];
}

type App = Awaited<ReturnType<typeof buildTestApp>>;

/** Every session of these users (the accounts a test made), through the store. */
async function sessionRows(app: App, ...userIds: number[]) {
  return (await Promise.all(userIds.map((id) => app.stores.sessions.ofUser(id)))).flat();
}

const signedInUser = async (app: App, client: Client) => (await app.stores.sessions.lookup(sha256(client.cookies.get('relais_session')!)))!.userId;

t.test('signing in sets an HttpOnly SameSite=Lax cookie whose SHA-256 alone is stored', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  const page = await client.get('/login');
  t.equal(page.statusCode, 200);
  for (const field of ['email', 'password', '_csrf']) t.match(page.body, `name="${field}"`, `the form has ${field}`);

  const res = await client.post('/login', { email: user.email, password: testPassword });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/smtp-servers');
  const line = setCookieLines(res).find((l) => l.startsWith('relais_session='))!;
  t.ok(line, 'a session cookie is set');
  t.match(line, /HttpOnly/);
  t.match(line, /SameSite=Lax/);
  t.match(line, /Path=\//);
  t.notMatch(line, /Secure/, 'not Secure over plain http');
  t.notMatch(line, /Max-Age|Expires/, 'a browser-session cookie: closing the browser drops it');
  const id = client.cookies.get('relais_session')!;
  t.match(id, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
  const rows = await sessionRows(app, user.id);
  t.equal(rows.length, 1);
  t.equal(rows[0]!.idHash, sha256(id), 'the database holds the hash');
  t.not(rows[0]!.idHash, id, 'never the id itself');
  t.equal(rows[0]!.userId, user.id);
  t.equal(rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime(), 8 * 3600_000, 'absolute limit of 8 hours by default');

  const list = await client.get('/smtp-servers');
  t.equal(list.statusCode, 200);
  t.match(text(list.body), `Connecté : ${user.displayName} (Administrateur)`);
});

t.test('over https the cookie is Secure and __Host- prefixed', async (t) => {
  const app = await buildTestApp(t, { RELAIS_URL: 'https://relais.exemple.fr' });
  const user = await createAccount(app, 'viewer');
  const client = new Client(app);
  await client.get('/login');
  const res = await client.post('/login', { email: user.email, password: testPassword });
  t.equal(res.statusCode, 303);
  const line = setCookieLines(res).find((l) => l.startsWith('__Host-relais_session='));
  t.ok(line, 'the __Host- cookie is set');
  t.match(line!, /Secure/);
  t.match(line!, /HttpOnly/);
  t.match(line!, /Path=\//);
  t.notMatch(line!, /Domain=/i);
  const list = await client.get('/smtp-servers');
  t.equal(list.statusCode, 200, 'the https cookie opens the pages');
});

t.test('session fixation: a planted or earlier session id never survives sign-in', async (t) => {
  const app = await buildTestApp(t);
  const first = await createAccount(app, 'admin');
  const second = await createAccount(app, 'viewer');
  const client = new Client(app);
  client.cookies.set('relais_session', 'planted-by-an-attacker-aaaaaaaaaaaaaaaaaaaaaaa');
  await client.get('/login');
  await client.post('/login', { email: first.email, password: testPassword });
  const firstId = client.cookies.get('relais_session')!;
  t.not(firstId, 'planted-by-an-attacker-aaaaaaaaaaaaaaaaaaaaaaa', 'the id changes at sign-in');
  t.equal((await sessionRows(app, first.id, second.id)).length, 1);

  // Signing in again (as someone else) from the same browser: a new id, and the previous session is gone.
  await client.get('/smtp-servers');
  const again = await client.post('/login', { email: second.email, password: testPassword });
  t.equal(again.statusCode, 303);
  const secondId = client.cookies.get('relais_session')!;
  t.not(secondId, firstId);
  const rows = await sessionRows(app, first.id, second.id);
  t.same(rows.map((r) => r.idHash), [sha256(secondId)], 'the earlier session row was destroyed');
  const replay = await app.inject({ url: '/smtp-servers', headers: { cookie: `relais_session=${firstId}` } });
  t.equal(replay.statusCode, 303, 'the earlier id no longer opens anything');
});

t.test('the CSRF secret is renewed at sign-in: a token from before does not work after', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  await client.get('/login');
  const before = client.csrfToken;
  const res = await client.post('/login', { email: user.email, password: testPassword });
  t.ok(setCookieLines(res).some((l) => l.startsWith('relais_csrf=;')), 'the CSRF cookie is cleared');
  const refused = await client.post('/smtp-servers/columns', { columns: 'id', _csrf: before });
  t.equal(refused.statusCode, 403);
  await client.get('/smtp-servers');
  t.not(client.csrfToken, before);
  t.equal((await client.post('/smtp-servers/columns', { columns: 'id' })).statusCode, 303);
});

t.test('idle timeout: 30 minutes without a request ends the session; activity slides it', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const id = client.cookies.get('relais_session')!;
  const userId = await signedInUser(app, client);
  const setLastSeen = (minutesAgo: number) => app.stores.sessions.touch(sha256(id), new Date(Date.now() - minutesAgo * 60_000));

  await setLastSeen(29);
  const alive = await client.get('/smtp-servers');
  t.equal(alive.statusCode, 200, '29 minutes idle is fine');
  const seen = (await sessionRows(app, userId))[0]!.lastSeenAt.getTime();
  t.ok(Date.now() - seen < 5_000, 'the request slid the idle window');

  await setLastSeen(31);
  const expired = await client.get('/smtp-servers?q=x');
  t.equal(expired.statusCode, 303);
  t.equal(expired.headers.location, '/login?next=%2Fsmtp-servers%3Fq%3Dx');
  t.ok(setCookieLines(expired).some((l) => /^relais_session=;/.test(l)), 'the dead cookie is cleared');
  t.equal((await sessionRows(app, userId)).length, 0, 'the expired session is deleted');
  const login = await client.get('/login?next=%2Fsmtp-servers%3Fq%3Dx');
  t.match(text(login.body), 'Votre session a expiré : reconnectez-vous.');
  t.match(login.body, 'name="next" value="/smtp-servers?q=x"');
});

t.test('absolute timeout: 8 hours after sign-in the session ends however active', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  // A session opened that long ago, and active just now.
  const signedInAgo = async (hours: number) => {
    const session = await app.repositories.sessions.createSession(user.id, { ip: null, userAgent: null }, new Date(Date.now() - hours * 3600_000));
    await app.stores.sessions.touch(session.idHash, new Date());
    client.cookies.set('relais_session', session.id);
  };
  await signedInAgo(7.9);
  t.equal((await client.get('/smtp-servers')).statusCode, 200);
  await app.repositories.sessions.destroyUserSessions(user.id);
  await signedInAgo(8.01);
  t.equal((await client.get('/smtp-servers')).statusCode, 303, 'still active, but past 8 hours');
  t.equal((await sessionRows(app, user.id)).length, 0);
});

t.test('the limits come from the configuration', async (t) => {
  const app = await buildTestApp(t, { RELAIS_SESSION_IDLE_MINUTES: '5', RELAIS_SESSION_ABSOLUTE_HOURS: '1' });
  const client = await adminClient(app);
  const id = client.cookies.get('relais_session')!;
  const row = (await sessionRows(app, await signedInUser(app, client)))[0]!;
  t.equal(row.expiresAt.getTime() - row.createdAt.getTime(), 3600_000, 'one hour absolute');
  await app.stores.sessions.touch(sha256(id), new Date(Date.now() - 6 * 60_000));
  t.equal((await client.get('/smtp-servers')).statusCode, 303, 'six minutes idle is too long with a 5-minute limit');
});

t.test('signing out destroys the session on the server, not just the cookie', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const id = client.cookies.get('relais_session')!;
  const userId = await signedInUser(app, client);
  const res = await client.post('/logout');
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/login');
  t.equal((await sessionRows(app, userId)).length, 0, 'the row is gone');
  const replay = await app.inject({ url: '/smtp-servers', headers: { cookie: `relais_session=${id}` } });
  t.equal(replay.statusCode, 303, 'a copy of the old cookie opens nothing');
  const login = await client.get('/login');
  t.match(text(login.body), 'Vous êtes déconnecté.');
  const audit = (await auditTrail(app, 'auth.logout')).map(({ actor, action, ip }) => ({ actor, action, ip }));
  t.same(audit, [{ actor: 'admin1@relais.test', action: 'auth.logout', ip: '127.0.0.1' }]);
});

t.test('next: back to the page asked for, never off-site', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const attempt = async (next: string) => {
    const client = new Client(app);
    await client.get('/login');
    const res = await client.post('/login', { email: user.email, password: testPassword, next });
    return res.headers.location;
  };
  t.equal(await attempt('/smtp-servers?q=vente&sort=host'), '/smtp-servers?q=vente&sort=host');
  t.equal(await attempt('/users'), '/users');
  for (const evil of ['//evil.example', 'https://evil.example', '/\\evil.example', '\\\\evil.example', '/\t/evil.example', 'javascript:alert(1)', ' //evil.example', '/%0a/evil']) {
    const location = await attempt(evil);
    t.equal(location, evil === '/%0a/evil' ? '/%0a/evil' : '/smtp-servers', `next=${JSON.stringify(evil)} stays on the site`);
  }
  const page = await app.inject({ url: '/login?next=%2F%2Fevil.example' });
  t.notMatch(page.body, 'name="next"', 'the login form does not carry an off-site next');
  const signedIn = new Client(app);
  await signIn(signedIn, user.email);
  const already = await signedIn.get('/login?next=https%3A%2F%2Fevil.example');
  t.equal(already.statusCode, 303);
  t.equal(already.headers.location, '/smtp-servers', 'a signed-in visit to /login is sent home, not away');
});

t.test('a failed sign-in says the same whether the email exists or not, and is recorded', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  await client.get('/login');
  const wrongPassword = await client.post('/login', { email: user.email, password: 'not the right passphrase' });
  const unknownEmail = await client.post('/login', { email: 'nobody@relais.test', password: 'not the right passphrase' });
  t.equal(wrongPassword.statusCode, 401);
  t.equal(unknownEmail.statusCode, 401);
  t.match(text(wrongPassword.body), 'Adresse mail ou mot de passe incorrect.');
  const message = (body: string) => /<p class="field-error form-error"[^>]*>([^<]*)<\/p>/.exec(body)?.[1];
  t.equal(message(wrongPassword.body), message(unknownEmail.body), 'the same message');
  t.notMatch(wrongPassword.body, 'not the right passphrase', 'the password is never echoed');
  t.match(wrongPassword.body, `value="${user.email}"`, 'the email is kept');
  const missing = await client.post('/login', { email: '', password: '' });
  t.equal(missing.statusCode, 422);
  t.match(text(missing.body), 'Indiquez votre adresse mail et votre mot de passe.');

  const rows = (await auditTrail(app, 'auth.loginFailed')).map(({ userId, actor, ip, targetId, summary }) => ({ userId, actor, ip, targetId, summary }));
  t.same(rows, [
    { userId: null, actor: user.email, ip: '127.0.0.1', targetId: String(user.id), summary: user.email },
    { userId: null, actor: 'nobody@relais.test', ip: '127.0.0.1', targetId: null, summary: 'nobody@relais.test' },
  ]);
  await client.post('/login', { email: user.email, password: testPassword });
  const success = (await auditTrail(app, 'auth.login')).map(({ userId, actor, ip }) => ({ userId, actor, ip }));
  t.same(success, [{ userId: user.id, actor: user.email, ip: '127.0.0.1' }]);
  t.notMatch(JSON.stringify(await auditTrail(app)), /passphrase/, 'no password in the audit trail');
});

t.test('disabling a user ends their session at once and keeps them out', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const viewer = await viewerClient(app);
  const viewerId = (await app.repositories.users.findUserByEmail('viewer2@relais.test'))!.id;
  t.equal((await viewer.get('/smtp-servers')).statusCode, 200);
  const res = await admin.post(`/users/${viewerId}`, { email: 'viewer2@relais.test', displayName: 'Lecteur 2', role: 'viewer', disabled: 'on' });
  t.equal(res.statusCode, 303);
  t.same(await app.stores.sessions.ofUser(viewerId), []);
  const after = await viewer.get('/smtp-servers');
  t.equal(after.statusCode, 303, 'the next request goes to the login page');
  t.match(after.headers.location, /^\/login/);
  const again = new Client(app);
  await again.get('/login');
  const refused = await again.post('/login', { email: 'viewer2@relais.test', password: testPassword });
  t.equal(refused.statusCode, 401, 'a disabled account cannot sign in');
  t.match(text(refused.body), 'Adresse mail ou mot de passe incorrect.', 'with the same words as any failure');
});

t.test('a session whose user was disabled behind the service’s back (straight in the store) is refused too', async (t) => {
  const app = await buildTestApp(t);
  const viewer = await viewerClient(app);
  const user = (await app.repositories.users.findUserByEmail('viewer1@relais.test'))!;
  await app.stores.users.update(user.id, { email: user.email, displayName: user.displayName, role: user.role, disabled: true }, new Date());
  t.equal((await viewer.get('/smtp-servers')).statusCode, 303);
});
