import t from 'tap';
import { adminClient, buildTestApp, Client, createAccount, signIn, validServer } from './helper.js';

const cookieHeader = (cookies: Map<string, string>) => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');

function formOf(fields: Record<string, string | string[]>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(key, v);
  return form.toString();
}

/** Creates a server with one browser's session cookie and another's CSRF cookie and token. */
function postMixed(session: Client, csrfFrom: Client) {
  return session.app.inject({
    method: 'POST',
    url: '/smtp-servers',
    payload: formOf({ ...validServer, _csrf: csrfFrom.csrfToken }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: cookieHeader(new Map([['relais_session', session.cookies.get('relais_session')!], ['relais_csrf', csrfFrom.cookies.get('relais_csrf')!]])),
    },
  });
}

t.test('a CSRF cookie and token fetched anonymously from /login are refused with an administrator’s session', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const anonymous = new Client(app);
  await anonymous.get('/login');
  t.ok(anonymous.csrfToken && anonymous.cookies.get('relais_csrf'), 'the anonymous browser has its pair');

  const res = await postMixed(admin, anonymous);
  t.equal(res.statusCode, 403);
  t.same((await app.repositories.smtpServers.listServers()).rows, [], 'no server was created');

  const own = await admin.post('/smtp-servers', validServer);
  t.equal(own.statusCode, 303, 'the session’s own token works');
});

t.test('a token stays with its session: not reused after signing in, nor by another session', async (t) => {
  const app = await buildTestApp(t);
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  await client.get('/login');
  const beforeSignIn = client.csrfToken;
  await signIn(client, user.email);
  t.not(client.csrfToken, beforeSignIn, 'signing in hands out a new token');
  t.equal((await client.post('/smtp-servers', { ...validServer, _csrf: beforeSignIn })).statusCode, 403, 'the token from before signing in is refused');

  const other = new Client(app);
  await signIn(other, user.email);
  const swapped = await postMixed(other, client);
  t.equal(swapped.statusCode, 403, 'another session of the same account may not use it');
  t.same((await app.repositories.smtpServers.listServers()).rows, []);
  t.equal((await client.post('/smtp-servers', validServer)).statusCode, 303);
});

t.test('over https the CSRF cookie is __Host- and Secure, like the session cookie', async (t) => {
  const app = await buildTestApp(t, { RELAIS_URL: 'https://relais.example' });
  const res = await app.inject({ method: 'GET', url: '/login' });
  const lines = [res.headers['set-cookie']].flat().map(String);
  const csrf = lines.find((l) => l.startsWith('__Host-relais_csrf='));
  t.ok(csrf, 'the cookie has the __Host- prefix');
  t.match(csrf, /; Secure/);
  t.match(csrf, /; Path=\/(;|$)/);
  t.notMatch(csrf, /Domain=/i);
  t.notOk(lines.some((l) => l.startsWith('relais_csrf=')), 'no unprefixed cookie');

  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  await signIn(client, user.email);
  t.ok(client.cookies.has('__Host-relais_session'));
  t.equal((await client.post('/smtp-servers', validServer)).statusCode, 303, 'a browser over https signs in and posts');
});
