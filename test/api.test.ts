import path from 'node:path';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { testConfig, buildTestApp, adminClient, text } from './helper.js';
import { apiRequest, deactivateDepartment, problem, tokenFor, validMessage } from './api-support.js';

// The sending API through app.inject on the real app (SQLite, or PostgreSQL under RELAIS_TEST_STORE=postgres).
// The outbox's worker is off: these tests are about what the API accepts, stores and answers.
const env = { RELAIS_OUTBOX_WORKER: 'false' };

t.test('POST /api/v1/messages answers 202 once the message is stored; GET gives it back', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app, { departments: ['vente'] });
  const pdf = Buffer.from('%PDF-1.4 devis');
  const res = await apiRequest(app, token, 'POST', '/api/v1/messages', {
    ...validMessage,
    to: 'Client <client@exemple.fr>, compta@exemple.fr',
    cc: ['Chef <chef@exemple.fr>'],
    bcc: 'archive@exemple.fr',
    replyTo: 'ventes@exemple.fr',
    html: '<p>Bonjour</p>',
    attachments: [{ filename: 'devis.pdf', contentType: 'application/pdf', contentBase64: pdf.toString('base64') }],
  });
  t.equal(res.statusCode, 202);
  const body = JSON.parse(res.body);
  t.same(Object.keys(body).sort(), ['id', 'status']);
  t.equal(body.status, 'queued');
  t.equal(res.headers.location, `/api/v1/messages/${body.id}`);

  const stored = await app.outbox.find(body.id);
  t.same(stored!.to, ['"Client" <client@exemple.fr>', 'compta@exemple.fr'], 'addresses parsed');
  t.same(stored!.cc, ['"Chef" <chef@exemple.fr>']);
  t.same(stored!.bcc, ['archive@exemple.fr']);
  t.equal(stored!.replyTo, 'ventes@exemple.fr');
  const [claimed] = await app.stores.outbox.claim('test', new Date(), new Date(Date.now() + 60_000), 10);
  const content = await app.stores.outbox.contentOf(claimed!.id);
  t.same(content.attachments.map((a) => [a.filename, a.contentType, Buffer.from(a.content).toString()]), [['devis.pdf', 'application/pdf', '%PDF-1.4 devis']], 'the attachment decoded');
  t.equal(content.text, validMessage.text);
  t.equal(content.html, '<p>Bonjour</p>');

  const got = await apiRequest(app, token, 'GET', res.headers.location as string);
  t.equal(got.statusCode, 200);
  t.match(got.headers['content-type'], /^application\/json/);
  const detail = JSON.parse(got.body);
  t.equal(detail.id, body.id);
  t.equal(detail.department, 'vente');
  t.equal(detail.subject, 'Devis 2025-001');
  t.match(detail.messageId, /^<.+@relais\.test>$/);
  t.same(detail.attempts, []);
  t.equal(detail.server, null);
  t.ok(new Date(detail.acceptedAt).getTime() > 0);
});

t.test('Idempotency-Key: the same body gets the first answer, another body a 422, another token its own message', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const other = await tokenFor(app, { name: 'Autre' });
  const key = { 'idempotency-key': 'facture-2025-0042' };
  const first = await apiRequest(app, token, 'POST', '/api/v1/messages', validMessage, key);
  t.equal(first.statusCode, 202);
  const again = await apiRequest(app, token, 'POST', '/api/v1/messages', validMessage, key);
  t.equal(again.statusCode, 202);
  t.equal(JSON.parse(again.body).id, JSON.parse(first.body).id, 'the first answer');
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.headers.location, first.headers.location);
  t.equal((await app.outbox.list({})).total, 1, 'queued once');

  const changed = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, subject: 'Autre chose' }, key);
  t.equal(changed.statusCode, 422);
  t.match(problem(changed), { title: 'This Idempotency-Key was used with another body', field: 'Idempotency-Key', status: 422 });

  const otherToken = await apiRequest(app, other, 'POST', '/api/v1/messages', validMessage, key);
  t.equal(otherToken.statusCode, 202);
  t.not(JSON.parse(otherToken.body).id, JSON.parse(first.body).id, 'keys are per token');
  const without = await apiRequest(app, token, 'POST', '/api/v1/messages', validMessage);
  t.not(JSON.parse(without.body).id, JSON.parse(first.body).id, 'no key, a new message');
  t.equal((await app.outbox.list({})).total, 3);

  for (const bad of ['', 'é', 'x'.repeat(256), 'a b']) {
    const res = await apiRequest(app, token, 'POST', '/api/v1/messages', validMessage, { 'idempotency-key': bad });
    t.equal(res.statusCode, 400, `Idempotency-Key ${JSON.stringify(bad.slice(0, 10))} refused`);
    t.equal(problem(res).field, 'idempotency-key');
  }
});

t.test('tokens: none, malformed, unknown → 401 with WWW-Authenticate; a department it may not use → 403', async (t) => {
  const app = await buildTestApp(t, env);
  const vente = await tokenFor(app, { departments: ['vente'] });
  for (const [authorization, challenge] of [
    [undefined, 'Bearer realm="relais"'],
    ['Basic YTpi', 'Bearer realm="relais", error="invalid_token"'],
    ['Bearer', 'Bearer realm="relais", error="invalid_token"'],
    [`Bearer relais_${'A'.repeat(43)}`, 'Bearer realm="relais", error="invalid_token"'],
    [`Bearer ${vente.slice(7)}`, 'Bearer realm="relais", error="invalid_token"'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', payload: validMessage, headers: authorization ? { authorization } : {} });
    t.equal(res.statusCode, 401, `${authorization ?? 'no header'} → 401`);
    t.equal(res.headers['www-authenticate'], challenge);
    t.match(problem(res), { status: 401, title: 'A valid API token is required', type: 'http://relais.test/api/docs#problem-unauthorized' });
  }
  const forbidden = await apiRequest(app, vente, 'POST', '/api/v1/messages', { ...validMessage, department: 'achat' });
  t.equal(forbidden.statusCode, 403);
  t.match(problem(forbidden), { status: 403, department: 'achat' });
  t.equal((await app.outbox.list({})).total, 0, 'nothing was queued');
  t.equal((await apiRequest(app, vente, 'POST', '/api/v1/messages', validMessage)).statusCode, 202, 'its own department goes through');
});

t.test('an unknown or inactive department is a 422 with its code', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const unknown = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, department: 'compta' });
  t.equal(unknown.statusCode, 422);
  t.match(problem(unknown), { status: 422, department: 'compta', title: 'Unknown department' });
  await deactivateDepartment(app, 'production');
  const inactive = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, department: 'production' });
  t.equal(inactive.statusCode, 422);
  t.match(problem(inactive), { status: 422, department: 'production', title: 'Inactive department' });
  t.equal((await app.outbox.list({})).total, 0);
});

t.test('invalid bodies: 400 with the field and the reason, nothing queued', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const cases: [string, unknown, string, RegExp | string][] = [
    ['a scalar sent as an array', { ...validMessage, subject: ['a', 'b'] }, 'subject', 'must be a string'],
    ['a one-element array for a scalar', { ...validMessage, subject: ['a'] }, 'subject', 'must be a string'],
    ['an unknown field', { ...validMessage, priority: 'high' }, 'priority', 'is not a known field'],
    ['an unknown field in an attachment', { ...validMessage, attachments: [{ filename: 'a', contentType: 'text/plain', contentBase64: '', size: 1 }] }, 'attachments[0].size', 'is not a known field'],
    ['no department', { to: 'a@exemple.fr', subject: 's', text: 't' }, 'department', 'is required'],
    ['no recipient', { department: 'vente', subject: 's', text: 't' }, 'to', 'is required'],
    ['no text nor html', { department: 'vente', to: 'a@exemple.fr', subject: 's' }, 'text', 'or html is required'],
    ['a number for an address', { ...validMessage, to: 5 }, 'to', 'must be a string or an array of strings'],
    ['an object in the list of addresses', { ...validMessage, cc: [{ address: 'a@b.fr' }] }, 'cc[0]', 'must be a string'],
    ['a wrong address', { ...validMessage, to: 'pas une adresse' }, 'to', /not valid/],
    ['a wrong address in a list', { ...validMessage, bcc: ['ok@exemple.fr', 'faux@'] }, 'bcc[1]', /not valid/],
    ['an empty list', { ...validMessage, to: [] }, 'to', 'must hold at least one address'],
    ['a line break in the subject', { ...validMessage, subject: 'a\r\nBcc: x@y.fr' }, 'subject', 'must not contain a line break'],
    ['an empty subject', { ...validMessage, subject: '' }, 'subject', /must NOT have fewer than 1 characters/],
    ['two reply-to addresses', { ...validMessage, replyTo: 'a@exemple.fr, b@exemple.fr' }, 'replyTo', 'must be one address'],
    ['base64 that is not', { ...validMessage, attachments: [{ filename: 'a.txt', contentType: 'text/plain', contentBase64: '***' }] }, 'attachments[0].contentBase64', 'must be base64'],
    ['a content type that is not one', { ...validMessage, attachments: [{ filename: 'a.txt', contentType: 'pdf', contentBase64: '' }] }, 'attachments[0].contentType', /must match pattern/],
    ['too many recipients', { ...validMessage, to: Array.from({ length: 101 }, (_, i) => `r${i}@exemple.fr`) }, 'to', /must NOT have more than 100 items/],
    ['a body that is an array', [validMessage], 'body', 'must be an object'],
    ['a body that is null', null, 'body', 'must be an object'],
  ];
  for (const [name, body, field, reason] of cases) {
    const res = await apiRequest(app, token, 'POST', '/api/v1/messages', body);
    t.equal(res.statusCode, 400, `${name} → 400`);
    const p = problem(res);
    t.equal(p.field, field, `${name}: the field`);
    t.match(p.reason, reason, `${name}: the reason`);
    t.equal(p.title, 'The request is invalid');
  }
  const malformed = await apiRequest(app, token, 'POST', '/api/v1/messages', '{"department": "vente",');
  t.equal(malformed.statusCode, 400);
  t.match(problem(malformed), { title: 'The body is not valid JSON', field: 'body' });
  const empty = await apiRequest(app, token, 'POST', '/api/v1/messages', '');
  t.equal(empty.statusCode, 400);
  t.equal((await app.outbox.list({})).total, 0, 'nothing was queued');
});

t.test('415 for anything but JSON, 413 past the limits, 404 for unknown API paths (405 for a known one: test/api-input.test.ts): all problems, never HTML', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
    const res = await apiRequest(app, token, 'POST', '/api/v1/messages', 'department=vente', { 'content-type': type });
    t.equal(res.statusCode, 415, `${type} → 415`);
    t.equal(problem(res).title, 'The body must be application/json');
  }
  const huge = 'A'.repeat(16 * 1024 * 1024);
  const tooBig = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, attachments: [{ filename: 'a', contentType: 'text/plain', contentBase64: huge }] });
  t.equal(tooBig.statusCode, 413);
  t.equal(problem(tooBig).title, 'The request is too large');
  // 11 MB decoded, 14.7 MB of base64: under the body limit, over the attachments' 10 MB.
  const chunk = Buffer.alloc(5.5 * 1024 * 1024, 1).toString('base64');
  const attachments = [0, 1].map((i) => ({ filename: `p${i}.bin`, contentType: 'application/octet-stream', contentBase64: chunk }));
  const overAttachments = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, attachments });
  t.equal(overAttachments.statusCode, 413);
  t.match(problem(overAttachments), { field: 'attachments', reason: /at most 10485760 bytes/ });
  const justUnder = await apiRequest(app, token, 'POST', '/api/v1/messages', {
    ...validMessage,
    attachments: [{ filename: 'p.bin', contentType: 'application/octet-stream', contentBase64: Buffer.alloc(10 * 1024 * 1024, 2).toString('base64') }],
  });
  t.equal(justUnder.statusCode, 202, '10 MB exactly is accepted');

  for (const [method, url] of [['GET', '/api'], ['GET', '/api/v2/messages'], ['DELETE', '/api/v1/nothing'], ['GET', '/api/v1/messages/x/y']] as const) {
    for (const auth of [token, null]) {
      const res = await app.inject({ method, url, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
      t.equal(res.statusCode, 404, `${method} ${url} → 404`);
      t.equal(problem(res).title, 'Not found');
    }
  }
  const admin = await adminClient(app);
  const signedIn = await admin.get('/api/nothing');
  t.equal(signedIn.statusCode, 404, 'a session changes nothing');
  t.equal(problem(signedIn).status, 404);
});

t.test('GET /api/v1/messages: pages, filters, and a token sees only the departments it may use', async (t) => {
  const app = await buildTestApp(t, env);
  const all = await tokenFor(app, { name: 'Tout' });
  const vente = await tokenFor(app, { name: 'Vente', departments: ['vente'] });
  const achatProduction = await tokenFor(app, { name: 'Achat+Production', departments: ['achat', 'production'] });
  const ids: Record<string, string[]> = { vente: [], achat: [], production: [] };
  for (const [department, n] of [['vente', 3], ['achat', 2], ['production', 1]] as const) {
    for (let i = 0; i < n; i++) {
      const res = await apiRequest(app, all, 'POST', '/api/v1/messages', { ...validMessage, department, subject: `${department} ${i}` });
      ids[department]!.push(JSON.parse(res.body).id);
    }
  }
  const list = async (token: string, query = '') => {
    const res = await apiRequest(app, token, 'GET', `/api/v1/messages${query}`);
    t.equal(res.statusCode, 200, `GET ${query || '(all)'}`);
    return JSON.parse(res.body) as { messages: { id: string; department: string; subject: string; status: string }[]; total: number; page: number; pages: number; perPage: number };
  };
  const everything = await list(all);
  t.equal(everything.total, 6);
  t.equal(everything.messages[0]!.subject, 'production 0', 'newest first');
  t.same((await list(vente)).messages.map((m) => m.department), ['vente', 'vente', 'vente'], 'a token limited to Vente sees Vente only');
  t.same(new Set((await list(achatProduction)).messages.map((m) => m.department)), new Set(['achat', 'production']));
  t.equal((await list(achatProduction, '?department=achat')).total, 2);
  const forbidden = await apiRequest(app, vente, 'GET', '/api/v1/messages?department=achat');
  t.equal(forbidden.statusCode, 403);
  t.equal(problem(forbidden).department, 'achat');

  const page2 = await list(all, '?perPage=4&page=2');
  t.same([page2.total, page2.page, page2.pages, page2.perPage, page2.messages.length], [6, 2, 2, 4, 2]);
  t.equal((await list(all, '?status=queued')).total, 6);
  t.equal((await list(all, '?status=sent')).total, 0);
  t.equal((await list(all, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).total, 0);
  t.equal((await list(all, '?since=2020-01-01T00:00:00Z')).total, 6);
  for (const [query, field] of [['?status=lost', 'status'], ['?page=0', 'page'], ['?since=hier', 'since'], ['?perPage=1000', 'perPage'], ['?q=x', 'q']] as const) {
    const res = await apiRequest(app, all, 'GET', `/api/v1/messages${query}`);
    t.equal(res.statusCode, 400, `${query} → 400`);
    t.equal(problem(res).field, field);
  }

  const own = await apiRequest(app, vente, 'GET', `/api/v1/messages/${ids.vente![0]}`);
  t.equal(own.statusCode, 200);
  const other = await apiRequest(app, vente, 'GET', `/api/v1/messages/${ids.achat![0]}`);
  t.equal(other.statusCode, 404, 'another department’s message is not found');
  t.equal(problem(other).title, 'Not found');
  t.equal((await apiRequest(app, vente, 'GET', '/api/v1/messages/nothing-here')).statusCode, 404);
});

t.test('the rate limit per token: 429 with Retry-After past it, counted in the database across instances', async (t) => {
  const app = await buildTestApp(t, { ...env, RELAIS_API_RATE_LIMIT_PER_MINUTE: '3' });
  const db = app.config.database;
  // The first app's folder, not t.testdir() again: that would empty it, database included.
  const dir = db.kind === 'sqlite' ? path.dirname(db.file) : t.testdir();
  const second = await buildApp(testConfig(dir, { ...env, RELAIS_API_RATE_LIMIT_PER_MINUTE: '3', RELAIS_DB: db.kind === 'sqlite' ? db.file : db.url }), { logger: false });
  t.teardown(() => second.close());
  const token = await tokenFor(app);
  const other = await tokenFor(app, { name: 'Autre' });
  // Both calls in one minute unless the clock turns between them; then the count starts again and this test retries.
  for (let round = 0; round < 2; round++) {
    const statuses = [];
    for (const instance of [app, second, app, second]) statuses.push((await apiRequest(instance, token, 'GET', '/api/v1/messages')).statusCode);
    if (statuses.filter((s) => s === 429).length === 1 || round === 1) {
      t.same(statuses, [200, 200, 200, 429], 'three requests over two instances, the fourth refused');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 61_000 - (Date.now() % 60_000)));
  }
  const limited = await apiRequest(second, token, 'POST', '/api/v1/messages', validMessage);
  t.equal(limited.statusCode, 429);
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
  t.match(problem(limited), { status: 429, title: 'Too many requests' });
  t.equal((await app.outbox.list({})).total, 0, 'the refused message was not queued');
  t.equal((await apiRequest(app, other, 'GET', '/api/v1/messages')).statusCode, 200, 'another token has its own count');
});

t.test('a busy token reserves its requests in blocks: exactly the limit on one instance, never more over two', async (t) => {
  const app = await buildTestApp(t, { ...env, RELAIS_API_RATE_LIMIT_PER_MINUTE: '100' });
  const db = app.config.database;
  const dir = db.kind === 'sqlite' ? path.dirname(db.file) : t.testdir();
  const second = await buildApp(testConfig(dir, { ...env, RELAIS_API_RATE_LIMIT_PER_MINUTE: '100', RELAIS_DB: db.kind === 'sqlite' ? db.file : db.url }), { logger: false });
  t.teardown(() => second.close());
  await tokenFor(app);
  const [token] = await app.stores.apiTokens.list();
  // Fixed instants, each in a minute of its own: the clock turning cannot split a round.
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const alone = new Date(minute + 60_000 + 5_000);
  const verdicts = [];
  for (let i = 0; i < 101; i++) verdicts.push((await app.repositories.apiTokens.reserveRequest(token!.id, alone)).allowed);
  t.equal(verdicts.filter(Boolean).length, 100, 'the first 100 requests of the minute are allowed');
  t.equal(verdicts[100], false, 'the 101st is refused');

  const together = new Date(minute + 120_000 + 5_000);
  let allowed = 0;
  for (let i = 0; i < 120; i++) {
    const instance = i % 2 === 0 ? app : second;
    if ((await instance.repositories.apiTokens.reserveRequest(token!.id, together)).allowed) allowed++;
  }
  // A block is at most 5 requests (a twentieth of 100): each instance may leave at most 4 of its last block unused.
  t.ok(allowed <= 100, `${allowed} allowed over two instances, never more than the limit`);
  t.ok(allowed >= 92, `${allowed} allowed: at most one unused block per instance`);
});

t.test('the OpenAPI 3.1 document and its readable page', async (t) => {
  const app = await buildTestApp(t, env);
  const res = await app.inject({ url: '/api/openapi.json' });
  t.equal(res.statusCode, 200);
  const doc = JSON.parse(res.body);
  t.equal(doc.openapi, '3.1.0');
  t.same(Object.keys(doc.paths).sort(), ['/api/v1/messages', '/api/v1/messages/{id}']);
  t.same(Object.keys(doc.paths['/api/v1/messages']).sort(), ['get', 'post']);
  const post = doc.paths['/api/v1/messages'].post;
  const schema = post.requestBody.content['application/json'].schema;
  t.equal(schema.additionalProperties, false, 'unknown fields refused, as the document says');
  t.same(schema.required, ['department', 'to', 'subject']);
  t.ok(post.responses['202'] && post.responses['401'] && post.responses['422'] && post.responses['429']);
  t.ok(post.responses['400'].content['application/problem+json'], 'errors are described as problems');
  t.ok(post.parameters.some((p: { name: string; in: string }) => p.name === 'idempotency-key' && p.in === 'header'));
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: 'An API token (relais_…) created on /api-tokens.' });
  t.ok(doc.components.schemas.Problem);

  const page = await app.inject({ url: '/api/docs' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], 'text/html');
  t.notMatch(page.body, '<script>', 'no inline script; the page needs none');
  const words = text(page.body);
  t.match(words, 'POST /api/v1/messages');
  t.match(words, 'GET /api/v1/messages/{id}');
  t.match(words, 'attachments[].contentBase64');
  t.match(words, 'idempotency-key (header)');
  t.match(page.body, 'id="problem-department-forbidden"', 'each problem type has its anchor');
  t.match(page.body, 'href="/api/openapi.json"');
});
