import t from 'tap';
import { benchServers, insertSqliteServers } from '../bench/seed.js';
import { adminClient, buildTestApp, seedServers, testSecret, text } from './helper.js';

const rowTitles = (html: string) => [...html.matchAll(/<th id=t\d+>(?:<a [^>]*>)?([^<]*)</g)].map((m) => m[1]!);
/** The columns the table shows, in order: each sort link of the header row (two columns may share a cell), then the actions. */
const shownColumns = (html: string) => {
  const head = /<thead>([\s\S]*?)<\/thead>/.exec(html)?.[1] ?? '';
  return [...head.matchAll(/href="\/smtp-servers\?(?:[^"]*&amp;)?sort=(\w+)|class="col-(links)"/g)].map((m) => m[1] ?? m[2]);
};
const htmxTable = { 'hx-request': 'true', 'hx-target': 'servers-table' };

t.test('search ignores case and accents, over every searchable field and the departments', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1, () => ({ title: 'Équipe Achats', host: 'mail.fournisseurs.fr', usage: 'custom', departments: ['achat'], senderName: 'Achats', email: 'achats@fournisseurs.fr', username: 'achats' }));
  await seedServers(app, 1, () => ({ title: 'Boutique', host: 'smtp.boutique.fr', usage: 'custom', departments: ['vente'], senderName: 'Élodie Martin', email: 'shop@boutique.fr', username: 'shop-user' }));
  await seedServers(app, 1, () => ({ title: 'Usine', host: 'relay.usine.local', usage: 'default', departments: [], senderName: 'Atelier', email: 'atelier@usine.fr', username: 'atelier' }));
  const client = await adminClient(app);
  const search = async (q: string) => rowTitles((await client.get(`/smtp-servers?q=${encodeURIComponent(q)}`)).body).sort();

  t.same(await search('equipe'), ['Équipe Achats'], '"equipe" finds "Équipe"');
  t.same(await search('ÉQUIPE'), ['Équipe Achats']);
  t.same(await search('vente'), ['Boutique', 'Usine'], 'a department name finds the servers serving it, default usage included');
  t.same(await search('Vente'), ['Boutique', 'Usine']);
  t.same(await search('elodie'), ['Boutique'], 'sender name, without its accent');
  t.same(await search('boutique.fr'), ['Boutique'], 'host and email');
  t.same(await search('shop-user'), ['Boutique'], 'user name');
  t.same(await search('usine achat'), ['Usine'], 'every word must match');
  t.same(await search('fr'), ['Boutique', 'Usine', 'Équipe Achats'].sort(), 'two letters still search');
  t.same(await search('"; DROP TABLE smtp_servers; --'), [], 'FTS syntax and SQL in the query are only text');
  t.same(await search('%'), [], 'LIKE wildcards are only text');

  const none = await client.get('/smtp-servers?q=xyz');
  t.match(text(none.body), 'Aucun serveur ne correspond à « xyz »');
  t.match(none.body, 'value="xyz"', 'the search box keeps the query');
});

t.test('search stays right after edits and deletes (the index follows the table)', async (t) => {
  const app = await buildTestApp(t);
  const [server] = await seedServers(app, 1, () => ({ title: 'Ancien titre' }));
  const client = await adminClient(app);
  const edit = await client.get(`/smtp-servers/${server!.id}/edit`);
  t.equal(edit.statusCode, 200);
  const { validServer } = await import('./helper.js');
  await client.post(`/smtp-servers/${server!.id}`, { ...validServer, title: 'Nouveau titre', password: '' });
  t.same(rowTitles((await client.get('/smtp-servers?q=ancien')).body), []);
  t.same(rowTitles((await client.get('/smtp-servers?q=nouveau')).body), ['Nouveau titre']);
  await client.post(`/smtp-servers/${server!.id}/delete`);
  t.same(rowTitles((await client.get('/smtp-servers?q=nouveau')).body), []);
});

t.test('sorting by a column header, both ways, announced with aria-sort', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3, (i) => ({ title: ['Charlie', 'alpha', 'Bravo'][i - 1]!, port: ['465', '25', '587'][i - 1]! }));
  const client = await adminClient(app);
  const byTitle = await client.get('/smtp-servers');
  t.same(rowTitles(byTitle.body), ['alpha', 'Bravo', 'Charlie'], 'default: title, case-insensitive');
  t.match(byTitle.body, /<th scope="col" class="col-title" aria-sort="ascending">/);
  t.match(byTitle.body, 'href="/smtp-servers?sort=title&amp;dir=desc"', 'clicking the sorted header flips it');

  const byPortDesc = await client.get('/smtp-servers?sort=port&dir=desc');
  t.same(rowTitles(byPortDesc.body), ['Bravo', 'Charlie', 'alpha']);
  t.match(byPortDesc.body, /<th scope="col" class="col-host" aria-sort="descending">/, 'the port shares the host’s cell, and its sort');
  t.notMatch(byPortDesc.body, /class="col-title" aria-sort/);

  await seedServers(app, 3, (i) => ({ title: ['Export', 'Équipe', 'Entrepôt'][i - 1]! }));
  const accented = await client.get('/smtp-servers?q=e');
  t.same(rowTitles(accented.body).filter((title) => title.startsWith('E') || title.startsWith('É')), ['Entrepôt', 'Équipe', 'Export'], 'accents sort as a French reader expects');
  const equipe = (await app.repositories.smtpServers.listServers({ q: 'equipe' })).rows[0]!;
  await app.stores.servers.setSortKey(equipe.id, '');
  t.same(await app.stores.servers.missingSortKeys(), [{ id: equipe.id, title: 'Équipe' }], 'a row from before the sort key');
  const { fillMissingSortKeys } = await import('../src/smtp-servers/repository.js');
  await fillMissingSortKeys(app.stores);
  t.same(await app.stores.servers.missingSortKeys(), [], 'rows from before the sort key get it at start');
  const again = await client.get('/smtp-servers?q=e');
  t.same(rowTitles(again.body).filter((title) => title.startsWith('E') || title.startsWith('É')), ['Entrepôt', 'Équipe', 'Export'], 'and sort where they belong');

  const bogus = await client.get('/smtp-servers?sort=password_ciphertext&dir=sideways');
  t.equal(bogus.statusCode, 200, 'an unknown sort falls back to the default');
  t.same(rowTitles(bogus.body).slice(0, 3), ['alpha', 'Bravo', 'Charlie']);
});

t.test('pagination: 25, 50 or 100 rows a page, with the total count', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 60);
  const client = await adminClient(app);
  const first = await client.get('/smtp-servers');
  t.equal(rowTitles(first.body).length, 25);
  t.match(text(first.body), '1–25 sur 60 serveurs');
  t.match(text(first.body), 'Page 1 sur 3');
  t.match(first.body, 'href="/smtp-servers?page=2"');

  const third = await client.get('/smtp-servers?page=3');
  t.same(rowTitles(third.body), Array.from({ length: 10 }, (_, i) => `Serveur ${String(51 + i).padStart(3, '0')}`));
  t.match(text(third.body), '51–60 sur 60 serveurs');

  const fifty = await client.get('/smtp-servers?per=50&page=2');
  t.equal(rowTitles(fifty.body).length, 10);
  t.match(text(fifty.body), '51–60 sur 60 serveurs');
  t.match(fifty.body, /<option value="50" selected>/);

  const hundred = await client.get('/smtp-servers?per=100');
  t.equal(rowTitles(hundred.body).length, 60);

  const beyond = await client.get('/smtp-servers?page=99');
  t.match(text(beyond.body), 'Page 3 sur 3', 'a page past the end shows the last one');
  const odd = await client.get('/smtp-servers?per=7&page=-2');
  t.equal(rowTitles(odd.body).length, 25, 'an unsupported page size falls back to 25');
});

t.test('a search matching more than 1,000 servers is counted up to 1,000 past the page: « plus de 1000 », then exact near the end', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1010, (i) => ({ title: `Serveur ${String(i).padStart(4, '0')}` }));
  const client = await adminClient(app);
  const first = await client.get('/smtp-servers?q=serveur');
  t.equal(rowTitles(first.body).length, 25);
  t.match(text(first.body), '1–25 sur plus de 1000 serveurs');
  t.match(text(first.body), 'Page 1 sur plus de 40');
  t.match(first.body, 'href="/smtp-servers?q=serveur&amp;page=2"', 'the next page is offered');

  const fortieth = await client.get('/smtp-servers?q=serveur&page=40');
  t.same(rowTitles(fortieth.body).slice(-1), ['Serveur 1000']);
  t.match(text(fortieth.body), '976–1000 sur 1010 serveurs', 'near the end the count is exact');
  t.match(text(fortieth.body), 'Page 40 sur 41');

  const beyond = await client.get('/smtp-servers?q=serveur&page=500');
  t.match(text(beyond.body), '1001–1010 sur 1010 serveurs', 'a page past the end shows the last one');
  t.same(rowTitles(beyond.body), Array.from({ length: 10 }, (_, i) => `Serveur ${1001 + i}`));

  t.match(text((await client.get('/smtp-servers')).body), '1–25 sur 1010 serveurs', 'the whole list is counted in full');
  t.match(text((await client.get('/smtp-servers?q=serveur%201005')).body), '1 serveur', 'a narrow search is exact');
});

t.test('columns: hide some, the choice persists in a cookie, restore brings the defaults back', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 2);
  const client = await adminClient(app);
  const save = await client.post('/smtp-servers/columns', { columns: ['links', 'title', 'host'], q: 'serveur', sort: 'host', dir: 'desc', per: '50' });
  t.equal(save.statusCode, 303);
  t.equal(save.headers.location, '/smtp-servers?q=serveur&sort=host&dir=desc&per=50', 'back to the same search, sort and page size');

  const list = await client.get('/smtp-servers');
  const headers = shownColumns(list.body);
  t.same(headers, ['title', 'host', 'links'], 'shown in the canonical order whatever the order sent');
  t.notMatch(list.body, 'class="col-email"');
  t.match(list.body, /<input type="checkbox" name="columns" value="email">/, 'the menu shows email unchecked');
  t.match(list.body, /<input type="checkbox" name="columns" value="host" checked>/);
  t.match(text(list.body), 'Colonnes enregistrées.');

  const again = await client.get('/smtp-servers');
  t.same(shownColumns(again.body), ['title', 'host', 'links'], 'still hidden on reload');

  const htmx = await client.post('/smtp-servers/columns', { columns: ['id', 'title'] }, htmxTable);
  t.equal(htmx.statusCode, 200, 'htmx gets the table fragment at once');
  t.notMatch(htmx.body, '<html');
  t.same(shownColumns(htmx.body), ['id', 'title']);

  const restore = await client.post('/smtp-servers/columns', { restore: '1' });
  t.equal(restore.statusCode, 303);
  const restored = await client.get('/smtp-servers');
  t.equal(shownColumns(restored.body).length, 12, 'every default column is back');
  t.match(text(restored.body), 'Colonnes par défaut restaurées.');

  const nothing = await client.post('/smtp-servers/columns', {});
  t.equal(nothing.statusCode, 303);
  const all = await client.get('/smtp-servers');
  t.equal(shownColumns(all.body).length, 12, 'unchecking everything means the defaults, never an empty table');
});

t.test('a fragment only when htmx asks for the table; the whole page otherwise', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3);
  const client = await adminClient(app);
  const fragment = await client.get('/smtp-servers?q=serveur', htmxTable);
  t.equal(fragment.statusCode, 200);
  t.notMatch(fragment.body, '<html');
  t.notMatch(fragment.body, 'id="servers-table"', 'the fragment is the inside of the table region');
  t.match(fragment.body, '<table class="data-table servers with-id">');
  t.match(String(fragment.headers.vary), /HX-Request/);
  t.match(String(fragment.headers.vary), /HX-Target/);

  const page = await client.get('/smtp-servers?q=serveur');
  t.match(page.body, '<html');
  t.match(page.body, 'id="servers-table"');
  t.match(String(page.headers.vary), /HX-Request/);

  const otherTarget = await client.get('/smtp-servers', { 'hx-request': 'true', 'hx-target': 'main' });
  t.match(otherTarget.body, '<html', 'another target gets the page');
  const restore = await client.get('/smtp-servers', { ...htmxTable, 'hx-history-restore-request': 'true' });
  t.match(restore.body, '<html', 'a history restore gets the page');

  const first = await client.get('/smtp-servers?q=serveur');
  const second = await client.get('/smtp-servers?q=serveur');
  t.not(/name="_csrf" value="([^"]+)"/.exec(second.body)?.[1], /name="_csrf" value="([^"]+)"/.exec(first.body)?.[1], 'each request renders its page: no page cache');
  await seedServers(app, 30, (i) => ({ title: `Autre ${i}` }));
  const br = await client.get('/smtp-servers', { 'accept-encoding': 'br' });
  t.equal(br.headers['content-encoding'], 'br', 'compressed once');
});

t.test('the list and its controls work as plain links and GET forms', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 30);
  const client = await adminClient(app);
  const page = await client.get('/smtp-servers?q=serveur');
  t.match(page.body, /<form class="search" role="search" method="get" action="\/smtp-servers"/, 'search is a GET form');
  t.match(page.body, /<a class="button" href="\/smtp-servers\?q=serveur" hx-get="\/smtp-servers\?q=serveur" data-refresh>/, 'refresh is a link to the same list');
  t.match(page.body, /<form class="menu-body" method="post" action="\/smtp-servers\/columns"/, 'the column menu is a form');
  t.match(page.body, /rel="next" href="\/smtp-servers\?q=serveur&amp;page=2"/, 'pagination keeps the search');
  t.match(page.body, /<a href=\/smtp-servers\/\d+\/edit aria-labelledby="ae t\d+">/, 'edit is a link');
  t.match(page.body, /<form class="table-scroll" method="post">/, 'the row buttons post one form around the table…');
  t.match(page.body, /<button formaction=\/smtp-servers\/\d+\/duplicate aria-labelledby="ac t\d+">/, '…each to its own action');
  t.match(page.body, /<a href=\/smtp-servers\/\d+\/delete aria-labelledby="ad t\d+">/, 'delete goes to a confirmation page');
});

t.test('a confirmed server reads « Confirmé le <date> »; one whose date was never recorded reads « Confirmé », not « Confirmé le »', async (t) => {
  // Rows written outside the confirmation link (the benchmark's seed, older copies) may lack the date.
  const [dated, undated] = benchServers(10, testSecret).filter((server) => server.confirmationStatus === 'confirmed');
  const app = await buildTestApp(t);
  const { database } = app.config;
  if (database.kind !== 'sqlite') return void t.pass('the seed writes SQLite rows only');
  insertSqliteServers(database.file, [dated!, { ...undated!, confirmedAt: null }]);
  const client = await adminClient(app);
  const page = (await client.get('/smtp-servers')).body;
  const cell = (id: number) => text(new RegExp(`<tr id="?server-${id}"?[^>]*>[\\s\\S]*?<td class=col-confirmation>([\\s\\S]*?)<td`).exec(page)![1]!).trim();
  t.match(cell(dated!.id), /^Confirmé le \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
  t.equal(cell(undated!.id), 'Confirmé');
});
