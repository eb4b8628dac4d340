import { PassThrough } from 'node:stream';
import t from 'tap';
import { hashToken } from '../src/api-tokens/service.js';
import { adminClient, auditTrail, buildTestApp, text, viewerClient } from './helper.js';

const secretIn = (html: string) => /id="token-secret"[^>]*value="(relais_[A-Za-z0-9_-]{43})"/.exec(html)?.[1];

t.test('an administrator creates a token, sees its secret once on the answer, and the list shows only its hint', async (t) => {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const app = await buildTestApp(t, { LOG_LEVEL: 'info' }, { logStream: stream });
  const admin = await adminClient(app);

  const page = await admin.get('/api-tokens');
  t.equal(page.statusCode, 200);
  t.match(text(page.body), 'Aucun jeton pour l’instant.');
  t.match(page.body, 'href="/api-tokens" aria-current="page"', 'the navigation links to it');

  const created = await admin.post('/api-tokens', { name: 'ERP — Vente', scope: 'some', departments: ['vente', 'achat'] });
  t.equal(created.statusCode, 201, 'the answer is the page itself, not a redirect');
  t.notOk(created.headers.location);
  t.equal(created.headers['cache-control'], 'no-store');
  const secret = secretIn(created.body);
  t.ok(secret, 'the secret is on the page');
  t.match(text(created.body), 'il ne sera plus jamais affiché');
  t.match(text(created.body), 'Services : Achat, Vente');

  const [row] = await app.stores.apiTokens.list();
  t.equal(row!.name, 'ERP — Vente');
  t.same(row!.departments, ['achat', 'vente']);
  t.equal(row!.allDepartments, false);
  t.equal(row!.hint, secret!.slice(0, 11));
  t.same(await app.stores.apiTokens.findByHash(hashToken(secret!)).then((r) => r?.id), row!.id, 'stored as its SHA-256');

  const list = await admin.get('/api-tokens');
  t.notMatch(list.body, secret!, 'the list never shows the secret again');
  t.match(text(list.body), `${secret!.slice(0, 11)}…`);
  t.match(text(list.body), 'Jamais utilisé');

  const [entry] = await auditTrail(app, 'apiToken.create');
  t.equal(entry!.summary, 'ERP — Vente');
  t.notMatch(JSON.stringify(entry), secret!.slice(7), 'the audit entry holds no secret');
  const audit = await admin.get('/audit');
  t.match(text(audit.body), 'Création de jeton d’API');
  t.match(text(audit.body), 'Achat, Vente');

  await app.inject({ method: 'GET', url: '/api/v1/messages', headers: { authorization: `Bearer ${secret}` } });
  t.notMatch(lines.join('\n'), secret!.slice(7), 'the secret is never logged, neither at creation nor in use');
});

t.test('the last use is shown, written at most once a minute', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const secret = secretIn((await admin.post('/api-tokens', { name: 'ERP', scope: 'all' })).body)!;
  const first = new Date('2025-03-01T10:00:00Z');
  const caller = await app.repositories.apiTokens.authenticate(secret, first);
  t.equal(caller!.allDepartments, true);
  t.equal((await app.stores.apiTokens.list())[0]!.lastUsedAt?.getTime(), first.getTime());
  await app.repositories.apiTokens.authenticate(secret, new Date(first.getTime() + 30_000));
  t.equal((await app.stores.apiTokens.list())[0]!.lastUsedAt?.getTime(), first.getTime(), 'not written again within the minute');
  const later = new Date(first.getTime() + 61_000);
  await app.repositories.apiTokens.authenticate(secret, later);
  t.equal((await app.stores.apiTokens.list())[0]!.lastUsedAt?.getTime(), later.getTime(), 'written again after it');
  t.match(text((await admin.get('/api-tokens')).body), '01/03/2025 11:01');
});

t.test('the form refuses a missing name and no department, each error next to its field', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const res = await admin.post('/api-tokens', { name: '  ', scope: 'some' });
  t.equal(res.statusCode, 422);
  t.match(res.body, /<p class="field-error" id="name-error">Donnez un nom au jeton.<\/p>/);
  t.match(res.body, /id="name"[^>]*aria-describedby="name-hint name-error"[^>]*aria-invalid="true"/);
  t.match(res.body, /id="departments-error">Cochez au moins un service/);
  t.match(res.body, 'href="#name"', 'the summary links to the field');
  const unknown = await admin.post('/api-tokens', { name: 'X', scope: 'some', departments: ['compta'] });
  t.equal(unknown.statusCode, 422);
  t.match(text(unknown.body), 'Le service « compta » n’existe pas.');
  const twice = await admin.postRaw('/api-tokens', 'name=a&name=b&scope=all');
  t.equal(twice.statusCode, 400, 'a scalar sent twice is refused');
  t.same(await app.stores.apiTokens.list(), [], 'nothing was created');
});

t.test('revoking: the API refuses the token from then on, and the list says so', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const secret = secretIn((await admin.post('/api-tokens', { name: 'Production', scope: 'some', departments: ['production'] })).body)!;
  const [token] = await app.stores.apiTokens.list();
  const before = await app.inject({ method: 'GET', url: '/api/v1/messages/none', headers: { authorization: `Bearer ${secret}` } });
  t.not(before.statusCode, 401, 'accepted before');

  const revoked = await admin.post(`/api-tokens/${token!.id}/revoke`);
  t.equal(revoked.statusCode, 303);
  t.equal(revoked.headers.location, '/api-tokens');
  const list = await admin.get('/api-tokens');
  t.match(text(list.body), 'Le jeton « Production » est révoqué');
  t.match(text(list.body), 'Révoqué le');
  t.notMatch(list.body, `/api-tokens/${token!.id}/revoke`, 'no revoke button left');

  const after = await app.inject({ method: 'GET', url: '/api/v1/messages', headers: { authorization: `Bearer ${secret}` } });
  t.equal(after.statusCode, 401);
  t.equal(after.headers['www-authenticate'], 'Bearer realm="relais", error="invalid_token"');
  t.equal(JSON.parse(after.body).detail, 'the token is unknown or revoked');

  const again = await admin.post(`/api-tokens/${token!.id}/revoke`);
  t.equal(again.statusCode, 303);
  t.match(text((await admin.get('/api-tokens')).body), 'était déjà révoqué');
  t.equal((await auditTrail(app, 'apiToken.revoke')).length, 1, 'one audit entry for one revocation');
  t.equal((await admin.post('/api-tokens/999/revoke')).statusCode, 404);
});

t.test('a viewer may not see nor create tokens', async (t) => {
  const app = await buildTestApp(t);
  const viewer = await viewerClient(app);
  t.equal((await viewer.get('/api-tokens')).statusCode, 403);
  t.equal((await viewer.post('/api-tokens', { name: 'x', scope: 'all' })).statusCode, 403);
  t.notMatch((await viewer.get('/smtp-servers')).body, 'href="/api-tokens"', 'no link for a viewer');
  t.same(await app.stores.apiTokens.list(), []);
});

t.test('the page in English', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  await admin.get('/language?lang=en&next=/api-tokens');
  const created = await admin.post('/api-tokens', { name: 'ERP', scope: 'all' });
  t.match(text(created.body), 'it will never be shown again');
  t.match(text(created.body), 'Departments: Every department');
});
