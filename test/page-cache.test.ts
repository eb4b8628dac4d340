import Database from 'better-sqlite3';
import t from 'tap';
import { negotiateEncoding } from '../src/web/page-cache.js';
import { adminClient, buildTestApp, seedServers, text, validServer } from './helper.js';

const tokenOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

t.test('a list page seen again is served from the cache until the data changes', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3);
  const client = await adminClient(app);
  const first = await client.get('/smtp-servers?q=serveur');
  const second = await client.get('/smtp-servers?q=serveur');
  t.equal(second.body, first.body, 'the same bytes');
  t.equal(tokenOf(second.body), tokenOf(first.body), 'even the CSRF token: rendered once');

  await client.post('/smtp-servers', { ...validServer, title: 'Serveur ajouté' });
  const afterCreate = await client.get('/smtp-servers?q=serveur');
  t.match(text(afterCreate.body), 'Serveur ajouté', 'a write through the app shows at once');
  const third = await client.get('/smtp-servers?q=serveur');
  t.notMatch(text(third.body), 'a été créé', 'the flash was shown once, not cached');

  // Another process writing the same file: the version moves with its commit (a trigger), not with our code.
  const other = new Database(app.database.file);
  other.prepare("UPDATE smtp_servers SET title = 'Renommé ailleurs', title_key = 'renommé ailleurs' WHERE title = 'Serveur 001'").run();
  other.close();
  const afterOther = await client.get('/smtp-servers');
  t.match(text(afterOther.body), 'Renommé ailleurs');
});

t.test('each browser gets its own CSRF token, each language its own page', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1);
  const alice = await adminClient(app);
  const bob = await adminClient(app);
  const a = await alice.get('/smtp-servers');
  const b = await bob.get('/smtp-servers');
  t.not(tokenOf(a.body), tokenOf(b.body));
  const duplicate = await bob.post('/smtp-servers/1/duplicate');
  t.equal(duplicate.statusCode, 303, "bob's token from his cached page works");
  const english = await alice.get('/smtp-servers', { 'accept-language': 'en' });
  t.match(text(english.body), 'Mail servers (SMTP)');
});

t.test('with RELAIS_PAGE_CACHE_ENTRIES=0 every request renders', async (t) => {
  const app = await buildTestApp(t, { RELAIS_PAGE_CACHE_ENTRIES: '0' });
  const client = await adminClient(app);
  const first = await client.get('/smtp-servers');
  const second = await client.get('/smtp-servers');
  t.not(tokenOf(second.body), tokenOf(first.body));
});

t.test('content negotiation for the compressed pages', async (t) => {
  t.equal(negotiateEncoding('gzip, deflate, br'), 'br');
  t.equal(negotiateEncoding('gzip'), 'gzip');
  t.equal(negotiateEncoding('br;q=0, gzip'), 'gzip');
  t.equal(negotiateEncoding('identity'), 'identity');
  t.equal(negotiateEncoding(undefined), 'identity');
  const app = await buildTestApp(t);
  await seedServers(app, 30);
  const client = await adminClient(app);
  const br = await client.get('/smtp-servers', { 'accept-encoding': 'br' });
  t.equal(br.headers['content-encoding'], 'br');
  t.match(String(br.headers.vary), 'Accept-Encoding');
});
