import t from 'tap';
import { MalformedBodyError, readFormFields } from '../src/web/form-body.js';
import { adminClient, buildTestApp, seedServers, text, type Client } from './helper.js';

function sample(url: string): string {
  return url.replace(/:token\b/g, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').replace(/:\w+/g, '1');
}

/** What any POST could change, read through the repositories. */
async function snapshot(client: Client) {
  const { smtpServers, audit, users, confirmations } = client.app.repositories;
  return JSON.stringify({
    servers: await smtpServers.listServers({ perPage: 100 }),
    password: await smtpServers.revealPassword(1),
    audit: (await audit.list({})).total,
    users: await users.listUsers(),
    sends: await confirmations.recentSends(1),
  });
}

const hostileBodies: [string, string, string][] = [
  ['a field sent twice', 'application/x-www-form-urlencoded', 'title=Pirate&title=Autre&password=&password=x&back=%2Fsmtp-servers&back=%2Fx'],
  ['the password sent twice', 'application/x-www-form-urlencoded', 'password=&password=x'],
  ['a bracketed array', 'application/x-www-form-urlencoded', 'password%5B%5D=x&email%5B%5D=a%40b.fr'],
  ['a JSON array', 'application/json', JSON.stringify({ password: ['x'], title: 'Pirate' })],
  ['a JSON object', 'application/json', JSON.stringify({ title: { $ne: '' }, password: { 0: 'x' } })],
  ['a JSON body that is an array', 'application/json', JSON.stringify([{ password: 'x' }])],
  ['a plain-text body', 'text/plain', 'password=x'],
  ['a multipart field sent twice', 'multipart/form-data; boundary=B', multipart([['title', 'Pirate'], ['password', ''], ['password', 'x']])],
  ['a multipart bracketed name', 'multipart/form-data; boundary=B', multipart([['password[]', 'x']])],
  ['a multipart file no form has', 'multipart/form-data; boundary=B', multipart([['title', 'Pirate']], [['attachment', 'x.png', 'not a logo']])],
];

/** A multipart/form-data body (boundary B) with these fields and files. */
function multipart(fields: [string, string][], files: [string, string, string][] = []): string {
  const parts = fields.map(([name, value]) => `--B\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  for (const [name, filename, content] of files) {
    parts.push(`--B\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: image/png\r\n\r\n${content}\r\n`);
  }
  return `${parts.join('')}--B--\r\n`;
}

t.test('every POST route refuses duplicated, array-valued and object-valued fields with 400, and nothing changes', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1);
  await app.ready();
  const admin = await adminClient(app);
  // The API's routes take JSON checked by their schemas, with a token: test/api.test.ts covers them.
  const posts = app.registeredRoutes.filter((r) => r.method === 'POST' && r.access !== 'token');
  t.ok(posts.length >= 15, `${posts.length} POST routes found`);
  const before = await snapshot(admin);
  const cookie = () => [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  for (const route of posts) {
    for (const [name, type, body] of hostileBodies) {
      const payload = type === 'application/x-www-form-urlencoded' ? `_csrf=${encodeURIComponent(admin.csrfToken)}&${body}` : body;
      for (const htmx of [false, true]) {
        const res = await app.inject({
          method: 'POST',
          url: sample(route.url),
          payload,
          headers: { cookie: cookie(), 'content-type': type, 'x-csrf-token': admin.csrfToken, ...(htmx ? { 'hx-request': 'true', 'hx-target': 'test-result' } : {}) },
        });
        t.equal(res.statusCode, 400, `${route.url}: ${name}${htmx ? ' (htmx)' : ''} → 400`);
      }
    }
  }
  t.equal(await snapshot(admin), before, 'no server, password, account, confirmation or audit entry changed');
  t.equal((await admin.get('/smtp-servers')).statusCode, 200, 'the session itself survived the refused sign-outs');
});

t.test('the 400 page says the request was malformed, in the user’s language', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const res = await admin.post('/smtp-servers', { title: ['a', 'b'] });
  t.equal(res.statusCode, 400);
  t.match(res.headers['content-type'], 'text/html');
  t.match(text(res.body), 'La requête n’a pas pu être comprise. Rien n’a été modifié.');
  t.notMatch(res.body, /MalformedBody|at .*\.ts/, 'no error name, no stack');
});

t.test('fields declared as lists may repeat; single values stay strings', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const columns = await admin.post('/smtp-servers/columns', { columns: ['title', 'host'] });
  t.equal(columns.statusCode, 303, 'several columns are one list');
  t.same(readFormFields({ departments: ['vente', 'achat'], port: 587, verifyCertificate: true }, ['departments']), {
    departments: ['vente', 'achat'],
    port: '587',
    verifyCertificate: 'true',
  });
  t.throws(() => readFormFields({ departments: [['vente']] }, ['departments']), new MalformedBodyError('departments'), 'a list holds strings only');
  t.throws(() => readFormFields({ port: null }), new MalformedBodyError('port'));
  t.same(readFormFields(undefined), {});
});
