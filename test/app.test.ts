import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { keyFromSecret, loadSecretBox, SecretBox } from '../src/crypto/secret-box.js';
import { safeReturnPath as safeNext } from '../src/web/return-path.js';
import { createViewEngine } from '../src/web/view-engine.js';
import { formatDateTime, pickLocale } from '../src/i18n/index.js';
import { adminClient, buildTestApp, sqliteOnly, text } from './helper.js';

t.test('healthz answers 200 with the database reachable and 503 without it', sqliteOnly('closes the SQLite handle (PostgreSQL: test/database-lost.test.ts)'), async (t) => {
  const app = await buildTestApp(t);
  const ok = await app.inject({ url: '/healthz' });
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { status: 'ok', database: 'ok' });
  app.database.sqlite.close();
  const down = await app.inject({ url: '/healthz' });
  t.equal(down.statusCode, 503);
  t.same(down.json(), { status: 'error', database: 'unreachable' });
});

t.test('the database is created, migrated, in WAL mode with foreign keys and a busy timeout', sqliteOnly('SQLite pragmas'), async (t) => {
  const app = await buildTestApp(t);
  const db = app.database.sqlite;
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  const departments = db.prepare('SELECT code, name FROM departments ORDER BY position').all();
  t.same(departments, [
    { code: 'achat', name: 'Achat' },
    { code: 'vente', name: 'Vente' },
    { code: 'production', name: 'Production' },
  ]);
});

t.test('starting twice on the same file migrates once and keeps the data', sqliteOnly('a SQLite file (PostgreSQL: test/postgres-client.test.ts)'), async (t) => {
  const dir = t.testdir();
  const config = loadConfig({ NODE_ENV: 'test', RELAIS_DB: path.join(dir, 'relais.sqlite'), RELAIS_SECRET: 'x'.repeat(40) });
  const first = await buildApp(config, { logger: false });
  await first.stores.audit.append({ userId: null, name: 'test', ip: null }, { action: 'marker' }, new Date(1));
  await first.close();
  const second = await buildApp(config, { logger: false });
  t.teardown(() => second.close());
  t.equal((await second.stores.audit.list({ action: 'marker' })).total, 1);
  t.equal((await second.stores.departments.list()).length, 3);
});

t.test('every answer carries the same security headers: pages, API problems, not-found, assets; HSTS only behind https', async (t) => {
  const expected = {
    'content-security-policy':
      "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'none';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self'",
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
  };
  const plain = await buildTestApp(t, { RELAIS_URL: 'http://relais.test' });
  for (const [method, url, status] of [['GET', '/login', 200], ['GET', '/public/nowhere.css', 404], ['GET', '/smtp-servers', 303], ['POST', '/api/v1/messages', 401], ['GET', '/healthz', 200]] as const) {
    const res = await plain.inject({ method, url });
    t.equal(res.statusCode, status, `${method} ${url}`);
    for (const [name, value] of Object.entries(expected)) t.equal(res.headers[name], value, `${method} ${url}: ${name}`);
    t.equal(res.headers['strict-transport-security'], undefined, `${method} ${url}: no HSTS over http`);
  }
  const asset = await plain.inject({ url: '/public/app.css' });
  t.equal(asset.headers['x-content-type-options'], 'nosniff', 'a static asset too');

  const secure = await buildTestApp(t, { RELAIS_URL: 'https://relais.test' });
  const res = await secure.inject({ url: '/login' });
  t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  t.equal(res.headers['content-security-policy'], `${expected['content-security-policy']};upgrade-insecure-requests`);
});

t.test('pages carry a strict CSP and security headers, and are compressed', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const res = await client.get('/smtp-servers', { 'accept-encoding': 'gzip' });
  const csp = String(res.headers['content-security-policy']);
  t.match(csp, "script-src 'self'");
  t.match(csp, "style-src 'self'");
  t.notMatch(csp, 'unsafe-inline');
  t.notMatch(csp, 'unsafe-eval');
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.equal(res.headers['content-encoding'], 'gzip');
  const plain = await client.get('/smtp-servers/new');
  t.match(plain.body, '<script src=');
  t.notMatch(plain.body, /<script>|<script (?!src=)|style="|<style/, 'no inline script or style in the page');
});

t.test('static files are served from our own origin with content-hashed URLs cached for a year', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const page = await client.get('/smtp-servers');
  const urls = [...page.body.matchAll(/(?:src|href)="(\/(?:public|vendor)\/[^"]+)"/g)].map((m) => m[1]!);
  t.equal(urls.length, 4, 'css, icon, htmx and our script');
  t.ok(urls.some((u) => u.startsWith('/vendor/htmx.min.js?v=')));
  for (const url of urls) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 200, url);
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  }
  const htmx = await app.inject({ url: '/vendor/htmx.min.js' });
  t.match(htmx.body, 'htmx', 'htmx 2 is served by us');
  t.equal((await app.inject({ url: '/vendor/package.json' })).statusCode, 404, 'only htmx.min.js is exposed from node_modules');
});

t.test('French by default, English when the browser prefers it or the user picks it', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const fr = await client.get('/smtp-servers');
  t.match(text(fr.body), 'Gestion des Serveurs de messagerie (SMTP)');
  const en = await client.get('/smtp-servers', { 'accept-language': 'en-GB,en;q=0.9,fr;q=0.5' });
  t.match(en.body, '<html lang="en">');
  t.match(text(en.body), 'Mail servers (SMTP)');

  const pick = await client.get('/language?lang=en&next=/smtp-servers/new');
  t.equal(pick.statusCode, 303);
  t.equal(pick.headers.location, '/smtp-servers/new');
  const form = await client.get('/smtp-servers/new', { 'accept-language': 'fr' });
  t.match(text(form.body), 'New SMTP server', 'the cookie wins over the browser');
  const bad = await client.post('/smtp-servers', { title: '' });
  t.match(text(bad.body), 'Give the server a title.', 'errors speak the chosen language');

  const offsite = await client.get('/language?lang=fr&next=//evil.example/');
  t.equal(offsite.headers.location, '/smtp-servers', 'next never leaves the site');
});

t.test('locale and redirect helpers', async (t) => {
  t.equal(pickLocale(undefined, undefined), 'fr');
  t.equal(pickLocale(undefined, 'de-DE,en;q=0.8'), 'en');
  t.equal(pickLocale(undefined, 'en;q=0.1,fr;q=0.9'), 'fr');
  t.equal(pickLocale('en', 'fr'), 'en');
  t.equal(pickLocale('de', 'de'), 'fr');
  for (const next of ['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)', '']) {
    t.equal(safeNext(next), '/smtp-servers', `refuses ${JSON.stringify(next)}`);
  }
  t.equal(safeNext('/smtp-servers?q=a'), '/smtp-servers?q=a');
});

t.test('TZ and RELAIS_SHUTDOWN_GRACE_MS are read with the other settings; a wrong zone stops the start', async (t) => {
  t.equal(loadConfig({}).timeZone, 'Europe/Paris');
  t.equal(loadConfig({}).shutdownGraceMs, 10_000);
  t.equal(loadConfig({ RELAIS_SHUTDOWN_GRACE_MS: '2500' }).shutdownGraceMs, 2500);
  t.throws(() => loadConfig({ TZ: 'Mars/Olympus' }), /TZ must be a time zone such as Europe\/Paris or UTC, got "Mars\/Olympus"/);
  t.throws(() => loadConfig({ RELAIS_SHUTDOWN_GRACE_MS: 'soon' }), /RELAIS_SHUTDOWN_GRACE_MS/);
  const at = new Date('2025-02-09T11:32:00Z');
  const app = await buildTestApp(t, { TZ: 'UTC' });
  t.equal(formatDateTime('fr', at), '09/02/2025 11:32', 'dates are shown in the configured zone');
  await app.close();
  await buildTestApp(t);
  t.equal(formatDateTime('fr', at), '09/02/2025 12:32', 'Europe/Paris by default');
});

t.test('SMTP passwords: AES-256-GCM with a random IV, key id stored, tampering detected, rotation', async (t) => {
  const box = new SecretBox(keyFromSecret('première clé'));
  const a = box.encrypt('motdepasse');
  const b = box.encrypt('motdepasse');
  t.not(a, b, 'a random IV per value');
  t.match(a, new RegExp(`^v1:${box.current.id}:`));
  t.equal(box.decrypt(a), 'motdepasse');
  const parts = a.split(':');
  const flipped = Buffer.from(parts[4]!, 'base64');
  flipped[0]! ^= 1;
  t.throws(() => box.decrypt([...parts.slice(0, 4), flipped.toString('base64')].join(':')), 'a changed ciphertext is refused');

  const rotated = new SecretBox(keyFromSecret('deuxième clé'), [keyFromSecret('première clé')]);
  t.equal(rotated.decrypt(a), 'motdepasse', 'an old key still decrypts during rotation');
  t.ok(rotated.needsRotation(a));
  t.notOk(rotated.needsRotation(rotated.encrypt('x')));
  t.throws(() => new SecretBox(keyFromSecret('autre')).decrypt(a), /No configured key/);
  t.equal(keyFromSecret('ab'.repeat(32)).key.toString('hex'), 'ab'.repeat(32), 'a 64-hex secret is used as the key itself');
});

t.test('without RELAIS_SECRET a key file is created once beside the database, mode 0600', async (t) => {
  const dir = t.testdir();
  const dbFile = path.join(dir, 'relais.sqlite');
  const first = loadSecretBox({ dbFile });
  t.ok(first.created);
  t.equal(first.source, path.join(dir, 'relais.key'));
  t.equal(fs.statSync(first.source).mode & 0o777, 0o600);
  const second = loadSecretBox({ dbFile });
  t.notOk(second.created);
  t.equal(second.box.current.id, first.box.current.id, 'the same key on the next start');
  t.equal(second.box.decrypt(first.box.encrypt('x')), 'x');
});

t.test('a gzip-compressed page still decodes to the full page', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const res = await app.inject({ url: '/smtp-servers', headers: { 'accept-encoding': 'gzip', cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
  const html = zlib.gunzipSync(res.rawPayload).toString('utf8');
  t.match(html, '</html>');
});

t.test('a page is compressed as the browser asks, in one piece, and decodes to the same page', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const get = (headers: Record<string, string>) => app.inject({ url: '/smtp-servers/new', headers: { cookie, ...headers } });
  const withoutToken = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, '').replace(/x-csrf-token&quot;:&quot;[^&]+/, '');
  const plain = await get({ 'accept-encoding': 'identity' });
  t.equal(plain.headers['content-encoding'], undefined);
  const decoders: Record<string, (body: Buffer) => Buffer> = { br: zlib.brotliDecompressSync, gzip: zlib.gunzipSync, deflate: zlib.inflateSync };
  for (const [accept, encoding] of [
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br;q=0, gzip;q=0.5, deflate', 'deflate'],
  ] as const) {
    const res = await get({ 'accept-encoding': accept });
    t.equal(res.headers['content-encoding'], encoding, accept);
    t.match(String(res.headers.vary), /accept-encoding/i, 'caches keep one copy per encoding');
    t.match(String(res.headers.vary), /HX-Request, HX-Target/);
    if (encoding !== 'deflate') t.equal(Number(res.headers['content-length']), res.rawPayload.length, 'sent with its length, not in chunks');
    t.equal(withoutToken(decoders[encoding]!(res.rawPayload).toString('utf8')), withoutToken(plain.body));
  }
  const refused = await get({ 'accept-encoding': 'br', 'x-no-compression': '1' });
  t.equal(refused.headers['content-encoding'], undefined, 'x-no-compression is honoured');
  t.match(refused.body, '</html>');
});

t.test('the view engine resolves includes as Eta does, and still refuses a path outside the views', async (t) => {
  const views = t.testdir({ 'page.eta': '<%~ include("./part", { n: it.n }) %>', 'part.eta': '<p><%= it.n %></p>' });
  const eta = createViewEngine({ views, cache: true });
  t.equal(eta.render('page', { n: 1 }), '<p>1</p>');
  t.equal(eta.render('page', { n: '<2>' }), '<p>&lt;2&gt;</p>', 'the remembered path serves the next render, escaped as before');
  t.throws(() => eta.render('../outside', {}), /not in the views directory/);
  t.throws(() => eta.render('../outside', {}), /not in the views directory/, 'a refusal is not remembered as a path');
});
