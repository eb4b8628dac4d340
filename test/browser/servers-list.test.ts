/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The list in a real browser: search, sort, pages, columns and refresh, with JavaScript on and off.
import { scenario, type Scenario } from './harness.js';
import { createServers, type ServerSeed } from './support.js';

const fourServers: ServerSeed[] = [
  { title: 'Vente principale', host: 'smtp.vente.exemple.fr', email: 'ventes@exemple.fr', senderName: 'Service Vente', departments: ['vente'] },
  { title: 'Achats Lyon', host: 'mail.lyon.exemple.fr', email: 'achats@exemple.fr', senderName: 'Achats', departments: ['achat'] },
  { title: 'Production Nord', host: 'relais.nord.lan', security: 'none', authentication: 'none', email: 'prod@exemple.fr', senderName: 'Usine Nord', departments: ['production'] },
  { title: 'Relais équipe', host: 'ssl0.ovh.net', security: 'tls', email: 'equipe@exemple.fr', senderName: 'L’équipe', departments: ['achat'] },
];

/** Marks the page outside the table: after an htmx swap the mark must still be there. */
async function markOutsideTable(s: Scenario) {
  await s.page.evaluate(() => document.querySelector('.page-head')!.setAttribute('data-browser-suite', 'kept'));
}

async function outsideTableKept(s: Scenario): Promise<boolean> {
  return (await s.page.locator('.page-head[data-browser-suite="kept"]').count()) === 1;
}

/** The table shows exactly these titles. */
function showing(s: Scenario, titles: string[]) {
  return async () => JSON.stringify(await s.rowTitles()) === JSON.stringify(titles);
}

scenario('search: as you type with JavaScript, by submitting without', async (s) => {
  const { page } = s;
  await createServers(s.app, fourServers);
  await s.goto('/smtp-servers');
  const all = ['Achats Lyon', 'Production Nord', 'Relais équipe', 'Vente principale'];
  s.t.same(await s.rowTitles(), all);
  const search = page.getByRole('searchbox', { name: 'Rechercher' });

  if (s.js) {
    await markOutsideTable(s);
    const loads = s.loads;
    // Key by key, faster than the 250 ms debounce: one request, one history entry.
    await search.pressSequentially('EQUIPE');
    await s.until('the URL carries the search', () => s.path().includes('q=EQUIPE'));
    await s.until('the table shows the match', showing(s, ['Relais équipe']));
    s.t.equal(s.loads, loads, 'no full page load: htmx swapped the table');
    s.t.ok(await outsideTableKept(s), 'the rest of the page was left as it was');
    s.t.equal(s.path(), '/smtp-servers?q=EQUIPE&sort=title&dir=asc&per=25', 'the URL carries the search');
    s.t.equal(await page.locator('#servers-count').innerText(), '1 serveur');

    await search.fill('');
    await search.pressSequentially('lyon');
    await s.until('the URL carries the second search', () => /[?&]q=lyon/.test(s.path()));
    await s.until('the table shows the second match', showing(s, ['Achats Lyon']));
    s.t.equal(s.loads, loads, 'still no full page load');

    await page.goBack();
    await s.until('Back restores the previous results', showing(s, ['Relais équipe']));
    s.t.match(s.path(), /[?&]q=EQUIPE/);
    await s.until('and the search box says that URL’s query', async () => (await search.inputValue()) === 'EQUIPE');
    await page.goForward();
    await s.until('Forward brings the second search back', showing(s, ['Achats Lyon']));
    s.t.equal(await search.inputValue(), 'lyon', 'its query in the box');
    await page.goBack();
    await page.goBack();
    await s.until('Back again restores the whole list', showing(s, all));
    s.t.equal(s.path(), '/smtp-servers');
    await s.until('with an empty search box', async () => (await search.inputValue()) === '');
  } else {
    await search.fill('EQUIPE');
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await s.until('the results page is shown', () => /[?&]q=EQUIPE/.test(s.path()));
    s.t.same(await s.rowTitles(), ['Relais équipe'], 'accents and case do not matter');
    s.t.equal(await search.inputValue(), 'EQUIPE', 'the search stays in its field');
    await page.goBack();
    await s.until('Back restores the whole list', showing(s, all));
  }

  await search.fill('xyz');
  await search.press('Enter');
  await s.until('the no-match message is shown', async () => (await page.locator('.empty-state').count()) === 1);
  s.t.match(await page.locator('.empty-state').innerText(), 'Aucun serveur ne correspond à « xyz »');
  await s.checkAccessibility('a search without results');
  await page.getByRole('link', { name: 'Effacer la recherche' }).click();
  await s.until('the whole list is back', showing(s, all));
});

scenario('status filters: a small GET form, in the URL, combined with the search', async (s) => {
  const { page } = s;
  await createServers(s.app, fourServers);
  await s.goto('/smtp-servers');
  const security = page.getByRole('combobox', { name: 'Sécurité' });
  await security.selectOption('starttls');
  if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
  await s.until('the filter applies', showing(s, ['Achats Lyon', 'Vente principale']));
  s.t.match(s.path(), /[?&]security=starttls/, 'the filter is in the URL');
  const search = page.getByRole('searchbox', { name: 'Rechercher' });
  if (s.js) await search.pressSequentially('lyon');
  else {
    await search.fill('lyon');
    await search.press('Enter');
  }
  await s.until('with the search', showing(s, ['Achats Lyon']));
  const params = new URL(s.path(), 'http://x').searchParams;
  s.t.same([params.get('q'), params.get('security')], ['lyon', 'starttls'], 'both in the URL');
  if (s.js) s.t.notMatch(s.path(), /confirmation=|test=/, 'filters left at « Indifférent » stay out of it');
  s.t.match(await page.getByRole('link', { name: 'CSV' }).getAttribute('href'), /security=starttls/, 'the exports follow');
  await page.reload();
  s.t.equal(await security.inputValue(), 'starttls', 'a reload keeps the filter');
  await page.getByRole('combobox', { name: 'Confirmation' }).selectOption('confirmed');
  if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
  await s.until('no server is confirmed', async () => (await page.locator('.empty-state').count()) === 1);
  s.t.match(await page.locator('.empty-state').innerText(), 'Aucun serveur ne correspond à « lyon »');
  await s.checkAccessibility('the list filtered');
});

scenario('sort by a column header', async (s) => {
  const { page } = s;
  await createServers(s.app, fourServers);
  await s.goto('/smtp-servers');
  const sortLink = (name: string) => page.locator('#servers-table thead').getByRole('link', { name, exact: true });
  const header = (name: string) => page.locator('#servers-table thead th', { has: page.getByRole('link', { name, exact: true }) });
  s.t.equal(await header('Titre').getAttribute('aria-sort'), 'ascending', 'sorted by title at first');
  if (s.js) await markOutsideTable(s);
  const loads = s.loads;

  await sortLink('Hôte').click();
  await s.until('sorted by host', async () => (await header('Hôte').getAttribute('aria-sort')) === 'ascending');
  s.t.equal(await header('Titre').getAttribute('aria-sort'), null, 'only one column is marked sorted');
  s.t.same(await s.rowTitles(), ['Achats Lyon', 'Production Nord', 'Vente principale', 'Relais équipe']);

  await sortLink('Hôte').click();
  await s.until('sorted by host, descending', async () => (await header('Hôte').getAttribute('aria-sort')) === 'descending');
  s.t.same(await s.rowTitles(), ['Relais équipe', 'Vente principale', 'Production Nord', 'Achats Lyon']);
  s.t.equal(s.path(), '/smtp-servers?sort=host&dir=desc');
  if (s.js) {
    s.t.equal(s.loads, loads, 'sorting swapped the table without a page load');
    s.t.ok(await outsideTableKept(s));
  }
});

scenario('pages: next page and rows per page', async (s) => {
  const { page } = s;
  await createServers(
    s.app,
    Array.from({ length: 30 }, (_, i) => ({ title: `Serveur ${String(i + 1).padStart(2, '0')}`, host: `smtp${i + 1}.exemple.fr`, email: `s${i + 1}@exemple.fr`, senderName: 'Envoi' })),
  );
  await s.goto('/smtp-servers');
  const count = page.locator('#servers-count');
  s.t.equal(await count.innerText(), '1–25 sur 30 serveurs');
  s.t.equal((await s.rowTitles()).length, 25);

  await page.getByRole('link', { name: 'Suivant' }).click();
  await s.until('the second page is shown', async () => (await count.innerText()) === '26–30 sur 30 serveurs');
  s.t.same(await s.rowTitles(), ['Serveur 26', 'Serveur 27', 'Serveur 28', 'Serveur 29', 'Serveur 30']);
  s.t.equal(await page.locator('.page-of').innerText(), 'Page 2 sur 2');
  s.t.equal(s.path(), '/smtp-servers?page=2');

  await page.getByRole('link', { name: 'Précédent' }).click();
  await s.until('the first page is back', async () => (await count.innerText()) === '1–25 sur 30 serveurs');

  await page.getByLabel('Lignes par page').selectOption('50');
  // Without JavaScript a choice in a list submits nothing: the visitor presses the button next to it.
  if (!s.js) await page.getByRole('button', { name: 'Afficher' }).click();
  else s.t.notOk(await page.getByRole('button', { name: 'Afficher' }).isVisible(), 'with JavaScript the list applies itself');
  await s.until('50 rows a page', async () => (await count.innerText()) === '1–30 sur 30 serveurs');
  s.t.equal((await s.rowTitles()).length, 30);
  s.t.match(s.path(), /[?&]per=50/);
});

scenario('columns: hide some, reload, still hidden, restore the defaults', async (s) => {
  const { page } = s;
  await createServers(s.app, fourServers.slice(0, 2));
  await s.goto('/smtp-servers');
  const all = ['ID', 'Titre', 'Hôte', 'Port', 'Authentification', 'Sécurité', 'Mail', 'Nom d’envoi', 'Utilisateur', 'Usage', 'Confirmation', 'Lien(s)'];
  s.t.same(await s.columnHeaders(), all);

  const menu = page.locator('details.columns-menu');
  await menu.locator('summary').click();
  s.t.ok(await menu.evaluate((d) => (d as HTMLDetailsElement).open), 'the menu opens');
  await s.checkAccessibility('the list with the column menu open');
  await menu.getByLabel('Hôte').uncheck();
  await menu.getByLabel('Mail').uncheck();
  await menu.getByLabel('Utilisateur').uncheck();
  await menu.getByRole('button', { name: 'Appliquer' }).click();
  const chosen = all.filter((c) => !['Hôte', 'Mail', 'Utilisateur'].includes(c));
  await s.until('the columns are hidden', async () => JSON.stringify(await s.columnHeaders()) === JSON.stringify(chosen));
  s.t.notMatch(await page.locator('#servers-table tbody').innerText(), 'smtp.vente.exemple.fr', 'the cells went too');

  await page.reload();
  s.t.same(await s.columnHeaders(), chosen, 'after a reload the choice is kept');
  await page.locator('details.columns-menu summary').click();
  s.t.notOk(await menu.getByLabel('Hôte').isChecked(), 'the menu shows the choice');
  s.t.ok(await menu.getByLabel('Titre').isChecked());

  await menu.getByRole('button', { name: 'Restaurer les colonnes par défaut' }).click();
  await s.until('the default columns are back', async () => JSON.stringify(await s.columnHeaders()) === JSON.stringify(all));
  await page.reload();
  s.t.same(await s.columnHeaders(), all, 'and they stay after a reload');
});

scenario('refresh shows what others added meanwhile', async (s) => {
  const { page } = s;
  await createServers(s.app, fourServers.slice(0, 1));
  await s.goto('/smtp-servers');
  s.t.same(await s.rowTitles(), ['Vente principale']);
  if (s.js) await markOutsideTable(s);
  const loads = s.loads;
  await createServers(s.app, fourServers.slice(1, 2));
  await page.getByRole('link', { name: 'Rafraîchir' }).click();
  await s.until('the new server appears', showing(s, ['Achats Lyon', 'Vente principale']));
  if (s.js) {
    s.t.equal(s.loads, loads, 'only the table was fetched again');
    s.t.ok(await outsideTableKept(s));
  }
});
