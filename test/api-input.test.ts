import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buildTestApp } from './helper.js';
import { apiRequest, deactivateDepartment, problem, tokenFor, validMessage } from './api-support.js';

// What the API refuses before or beside its schema, through app.inject on the real app (SQLite, or PostgreSQL under
// RELAIS_TEST_STORE=postgres, which refuses U+0000 in text: these must be 400s there, never 500s).
const env = { RELAIS_OUTBOX_WORKER: 'false' };

const raw = (app: Awaited<ReturnType<typeof buildTestApp>>, token: string, payload: string | Buffer, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/api/v1/messages', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, payload });

t.test('a key sent twice in an object is refused with its path; the last value does not silently win', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const cases: [string, string][] = [
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","subject":"y","text":"t"}', 'subject'],
    ['{"department":"vente","department":"achat","to":"a@exemple.fr","subject":"x","text":"t"}', 'department'],
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","text":"t","attachments":[{"filename":"a","filename":"b","contentType":"text/plain","contentBase64":"QQ=="}]}', 'attachments[0].filename'],
    // The same key written with an escape is the same key.
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","\\u0073ubject":"y","text":"t"}', 'subject'],
  ];
  for (const [body, field] of cases) {
    const res = await raw(app, token, body);
    t.equal(res.statusCode, 400, body);
    t.match(problem(res), { status: 400, field, reason: 'is sent twice', title: 'The request is invalid' });
  }
  // A key that only looks like another one, strings holding quotes and braces, the same key in two objects: all fine.
  const fine = await raw(app, token, JSON.stringify({ ...validMessage, subject: 'a "quoted" {brace} [bracket], comma', text: 'x\\"y', attachments: [
    { filename: 'a.txt', contentType: 'text/plain', contentBase64: 'QQ==' },
    { filename: 'b.txt', contentType: 'text/plain', contentBase64: 'Qg==' },
  ] }));
  t.equal(fine.statusCode, 202, fine.body);
  t.equal((await app.outbox.list({})).total, 1, 'only the valid one queued');
});

t.test('U+0000, an unpaired surrogate, bytes that are not UTF-8, another charset: 400 or 415, nothing queued', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const cases: [string, string][] = [
    ['{"department":"vente","to":"a@exemple.fr","subject":"x\\u0000y","text":"t"}', 'subject'],
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","text":"t\\u0000"}', 'text'],
    ['{"department":"ach\\u0000at","to":"a@exemple.fr","subject":"x","text":"t"}', 'department'],
    ['{"department":"vente","to":"a@exemple.fr","subject":"sur \\ud800 x","text":"t"}', 'subject'],
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","text":"t \\udc00"}', 'text'],
    ['{"department":"vente","to":"a@exemple.fr","subject":"x","text":"t","attachments":[{"filename":"a\\u0000b","contentType":"text/plain","contentBase64":"QQ=="}]}', 'attachments[0].filename'],
  ];
  for (const [body, field] of cases) {
    const res = await raw(app, token, body);
    t.equal(res.statusCode, 400, body);
    t.match(problem(res), { status: 400, field, reason: /not allowed/ });
  }
  // A pair of surrogates is one character (an emoji): accepted.
  t.equal((await raw(app, token, '{"department":"vente","to":"a@exemple.fr","subject":"ok \\ud83d\\ude00","text":"t"}')).statusCode, 202);

  const notUtf8 = await raw(app, token, Buffer.concat([Buffer.from('{"department":"vente","to":"a@exemple.fr","subject":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","text":"t"}')]));
  t.equal(notUtf8.statusCode, 400);
  t.match(problem(notUtf8), { field: 'body', reason: 'is not valid UTF-8' });
  const latin1 = await raw(app, token, JSON.stringify(validMessage), 'application/json; charset=latin1');
  t.equal(latin1.statusCode, 415);
  t.match(problem(latin1), { status: 415, detail: /UTF-8/ });
  t.equal((await raw(app, token, JSON.stringify(validMessage), 'application/json; charset=UTF-8')).statusCode, 202, 'charset=UTF-8 is fine');
  const proto = await raw(app, token, '{"department":"vente","to":"a@exemple.fr","subject":"x","text":"t","__proto__":{"admin":true}}');
  t.equal(proto.statusCode, 400);
  t.equal(problem(proto).field, 'body');
  t.equal((await app.outbox.list({})).total, 2, 'only the two valid ones');
});

t.test('every refusal of the body as it is read, whole: malformed JSON apart, the request is invalid at its field', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const malformed = { type: 'http://relais.test/api/docs#problem-malformed-json', title: 'The body is not valid JSON', status: 400, detail: 'the body is not valid JSON', field: 'body', reason: 'is not valid JSON' };
  const invalid = (field: string, reason: string) => ({ type: 'http://relais.test/api/docs#problem-invalid-request', title: 'The request is invalid', status: 400, detail: `${field} ${reason}`, field, reason });
  const cases: [string, string | Buffer, object][] = [
    ['not JSON', '{"department": "vente",', malformed],
    ['no body at all', '', malformed],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), invalid('body', 'is not valid UTF-8')],
    ['a __proto__ key', '{"department":"vente","__proto__":{"admin":true}}', invalid('body', 'holds a __proto__ key')],
    ['a constructor.prototype key', '{"department":"vente","constructor":{"prototype":{"admin":true}}}', invalid('body', 'holds a constructor.prototype key')],
    ['a key sent twice', '{"department":"vente","subject":"x","subject":"y"}', invalid('subject', 'is sent twice')],
    ['U+0000 in a string', '{"department":"vente","subject":"x\\u0000y"}', invalid('subject', 'holds a character that is not allowed (U+0000 or an unpaired surrogate)')],
  ];
  for (const [name, payload, expected] of cases) {
    const res = await raw(app, token, payload);
    t.equal(res.statusCode, 400, name);
    t.same(problem(res), expected, name);
  }
  t.equal((await app.outbox.list({})).total, 0, 'nothing queued');
});

t.test('U+0000 in a URL, a leap second in since, a URL that does not decode, a path part too long: problems, not 500s', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  for (const url of ['/api/v1/messages?department=%00', '/api/v1/messages/%00', '/api/v1/messages?department=vente%00x']) {
    const res = await apiRequest(app, token, 'GET', url);
    t.equal(res.statusCode, 400, url);
    t.match(problem(res), { status: 400, detail: /NUL/ });
  }
  const leap = await apiRequest(app, token, 'GET', '/api/v1/messages?since=2016-12-31T23:59:60Z');
  t.equal(leap.statusCode, 400);
  t.match(problem(leap), { field: 'since', reason: 'is not a moment that exists' });
  const badUrl = await apiRequest(app, token, 'GET', '/api/v1/messages/%zz');
  t.equal(badUrl.statusCode, 400);
  t.match(problem(badUrl), { status: 400, field: 'url', title: 'The request is invalid' });
  const long = await apiRequest(app, token, 'GET', `/api/v1/messages/${'a'.repeat(101)}`);
  t.equal(long.statusCode, 414);
  t.match(problem(long), { status: 414, field: 'url' });
  // The pages read a NUL in their search as a space (test/smtp-servers.test.ts); a URL that does not decode gets a page.
  const pageBadUrl = await app.inject({ method: 'GET', url: '/messages/%zz' });
  t.equal(pageBadUrl.statusCode, 400);
  t.match(pageBadUrl.headers['content-type'], /^text\/html/);
});

t.test('a method a path does not answer: 405 with Allow; OPTIONS: 204 with Allow; an unknown path stays 404', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  for (const [method, url, allow] of [
    ['PUT', '/api/v1/messages', 'GET, HEAD, POST'],
    ['DELETE', '/api/v1/messages/', 'GET, HEAD, POST'],
    ['PATCH', '/api/v1/messages/abc', 'GET, HEAD'],
    ['DELETE', '/api/v1/messages/abc', 'GET, HEAD'],
  ] as const) {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
    t.equal(res.statusCode, 405, `${method} ${url}`);
    t.equal(res.headers.allow, allow);
    t.match(problem(res), { status: 405, title: 'Method not allowed', type: /#problem-method-not-allowed$/ });
  }
  const options = await app.inject({ method: 'OPTIONS', url: '/api/v1/messages' });
  t.equal(options.statusCode, 204);
  t.equal(options.headers.allow, 'GET, HEAD, POST');
  const unknown = await app.inject({ method: 'PUT', url: '/api/v1/nothing' });
  t.equal(unknown.statusCode, 404);
  t.equal(problem(unknown).status, 404);
});

t.test('addresses: an internationalised domain is sent as punycode; two addresses without a comma are refused', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const idn = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, to: 'Jörg <jorg@exämple.de>', cc: ['compta@société.fr'] });
  t.equal(idn.statusCode, 202, idn.body);
  const stored = await app.outbox.find(JSON.parse(idn.body).id);
  t.same(stored!.to, ['"Jörg" <jorg@xn--exmple-cua.de>']);
  t.same(stored!.cc, ['compta@xn--socit-esab.fr']);
  for (const [to, reason] of [
    ['jörg@exemple.de', /not valid/],
    ['<a@exemple.fr> <b@exemple.fr>', 'holds addresses that must be separated by commas'],
    ['a@exemple.fr b@exemple.fr', 'holds addresses that must be separated by commas'],
  ] as const) {
    const res = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, to });
    t.equal(res.statusCode, 400, to);
    t.match(problem(res), { field: 'to', reason });
  }
  // A quoted name may hold what it likes.
  t.equal((await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, to: '"Dupont, <Jean>" <j@exemple.fr>' })).statusCode, 202);
  const notArray = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, attachments: { filename: 'a' } });
  t.equal(notArray.statusCode, 400);
  t.match(problem(notArray), { field: 'attachments', reason: 'must be an array of objects' });
});

t.test('a replay is the first answer, even once the department is deactivated; a limited token learns nothing of other codes', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  const key = { 'idempotency-key': 'commande-7' };
  const first = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, department: 'production' }, key);
  t.equal(first.statusCode, 202);
  t.same(JSON.parse(first.body).status, 'queued');
  // It moves on (claimed by a worker) before the ERP's retry comes.
  const [claimed] = await app.stores.outbox.claim('test', new Date(), new Date(Date.now() + 60_000), 10);
  t.ok(claimed);
  await deactivateDepartment(app, 'production');
  const again = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, department: 'production' }, key);
  t.equal(again.statusCode, 202, again.body);
  t.same(JSON.parse(again.body), JSON.parse(first.body), 'the same id and status as the first answer');
  t.equal(again.headers['idempotent-replayed'], 'true');
  const fresh = await apiRequest(app, token, 'POST', '/api/v1/messages', { ...validMessage, department: 'production' }, { 'idempotency-key': 'commande-8' });
  t.equal(fresh.statusCode, 422, 'a new key for the deactivated department is refused');

  const vente = await tokenFor(app, { name: 'Vente', departments: ['vente'] });
  for (const department of ['achat', 'nope']) {
    const res = await apiRequest(app, vente, 'POST', '/api/v1/messages', { ...validMessage, department });
    t.equal(res.statusCode, 403, department);
    t.match(problem(res), { status: 403, department });
  }
});

t.test('GET /api/v1/messages past the last page: no messages, the page asked for', async (t) => {
  const app = await buildTestApp(t, env);
  const token = await tokenFor(app);
  for (let i = 0; i < 3; i++) await apiRequest(app, token, 'POST', '/api/v1/messages', validMessage);
  const last = JSON.parse((await apiRequest(app, token, 'GET', '/api/v1/messages?perPage=2&page=2')).body);
  t.equal(last.messages.length, 1);
  t.match(last, { page: 2, pages: 2, total: 3 });
  const past = JSON.parse((await apiRequest(app, token, 'GET', '/api/v1/messages?perPage=2&page=3')).body);
  t.same(past, { messages: [], total: 3, page: 3, pages: 2, perPage: 2 });
});

t.test('over HTTP, a URL too long for the headers: 431, a readable page for a person, a problem for the API', async (t) => {
  const app = await buildTestApp(t, env);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const get = (url: string) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: url }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      }).on('error', reject);
    });
  const page = await get(`/messages?q=${'%C3%A9'.repeat(3000)}`);
  t.equal(page.status, 431);
  t.match(page.type, /^text\/html/);
  t.match(page.body, /Requête trop longue/);
  t.match(page.body, /Request too long/);
  const api = await get(`/api/v1/messages?department=${'x'.repeat(20_000)}`);
  t.equal(api.status, 431);
  t.match(api.type, /^application\/problem\+json/);
  t.match(JSON.parse(api.body), { status: 431, title: 'The request is too large' });
});
