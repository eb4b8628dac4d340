/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The departments pages in a real browser, with JavaScript on and off: move up / down, add, rename, deactivate.
import { scenario, type Scenario } from './harness.js';
import { createServers } from './support.js';

/** The department page's servers, in the order shown. */
function order(s: Scenario): Promise<string[]> {
  return s.page.locator('#department-servers tbody th a').allInnerTexts();
}

function showing(s: Scenario, titles: string[]) {
  return async () => JSON.stringify(await order(s)) === JSON.stringify(titles);
}

async function confirmed(s: Scenario, titles: string[]) {
  const servers = await createServers(
    s.app,
    titles.map((title, i) => ({ title, host: `smtp${i}.exemple.fr`, email: `envoi${i}@exemple.fr`, senderName: title, departments: ['vente'] })),
  );
  for (const server of servers) await s.stores.servers.update(server.id, { confirmationStatus: 'confirmed' });
  return servers;
}

scenario('a department’s servers move up and down: in place with JavaScript, by a page load without', async (s) => {
  const { page } = s;
  await confirmed(s, ['Alpha', 'Bravo', 'Charlie']);
  await s.goto('/smtp-servers');
  await page.getByRole('link', { name: 'Départements' }).click();
  await s.until('the departments page is open', () => s.path() === '/departments');
  await page.getByRole('link', { name: 'Vente', exact: true }).click();
  await s.until('Vente’s page is open', () => s.path() === '/departments/vente');
  s.t.same(await order(s), ['Alpha', 'Bravo', 'Charlie']);
  s.t.match(await page.locator('#department-server-' + (await s.stores.departments.candidates((await s.stores.departments.findByCode('vente'))!.id))[0]!.id).innerText(), 'Principal');

  const loads = s.loads;
  const charlieRow = page.locator('tr', { hasText: 'Charlie' });
  await charlieRow.getByRole('button', { name: /Monter/ }).click();
  await s.until('Charlie moved up', showing(s, ['Alpha', 'Charlie', 'Bravo']));
  if (s.js) s.t.equal(s.loads, loads, 'no page load: htmx redrew the list');
  else {
    s.t.ok(s.loads > loads, 'a page load without JavaScript');
    s.t.equal(await s.flash(), '« Charlie » est monté d’un rang.');
  }
  await page.locator('tr', { hasText: 'Alpha' }).getByRole('button', { name: /Descendre/ }).click();
  await s.until('Alpha moved down', showing(s, ['Charlie', 'Alpha', 'Bravo']));
  s.t.equal(await page.locator('tr', { hasText: 'Charlie' }).getByRole('button', { name: /Monter/ }).isDisabled(), true, 'the first cannot go higher');
  const vente = (await s.stores.departments.findByCode('vente'))!;
  s.t.same((await s.stores.departments.candidates(vente.id)).map((c) => [c.title, c.position]), [['Charlie', 1], ['Alpha', 2], ['Bravo', 3]], 'the order is stored');
  await page.reload();
  s.t.same(await order(s), ['Charlie', 'Alpha', 'Bravo'], 'and shown again after a reload');
  s.t.match(await page.locator('tr', { hasText: 'Charlie' }).innerText(), 'Principal');
  await s.checkAccessibility('a department’s page');
});

scenario('add a department, rename it, deactivate it', async (s) => {
  const { page } = s;
  await s.goto('/departments');
  await page.getByLabel('Nom', { exact: true }).fill('Comptabilité');
  await page.getByLabel('Code', { exact: true }).fill('Compta!');
  await page.getByRole('button', { name: 'Ajouter le département' }).click();
  await s.until('the error is shown', async () => (await page.locator('#code-error').count()) === 1);
  s.t.match(await page.locator('#code-error').innerText(), 'lettres minuscules');
  s.t.equal(await page.getByLabel('Nom', { exact: true }).inputValue(), 'Comptabilité', 'what was typed is kept');
  await page.getByLabel('Code', { exact: true }).fill('comptabilite');
  await page.getByRole('button', { name: 'Ajouter le département' }).click();
  await s.until('the new department’s page', () => s.path() === '/departments/comptabilite');
  s.t.equal(await s.flash(), 'Le département « Comptabilité » a été ajouté.');
  s.t.match(await page.locator('h1').innerText(), 'Comptabilité');

  await page.getByLabel('Nom', { exact: true }).fill('Finance');
  await page.getByRole('button', { name: 'Renommer', exact: true }).click();
  await s.until('renamed', async () => (await page.locator('h1').innerText()).includes('Finance'));
  s.t.equal(s.path(), '/departments/comptabilite', 'the code stays');

  await page.getByRole('button', { name: 'Désactiver le département' }).click();
  await s.until('deactivated', async () => (await page.locator('h1 .badge-inactive').count()) === 1);
  s.t.equal((await s.stores.departments.findByCode('comptabilite'))!.active, false);
  await s.goto('/smtp-servers/new');
  s.t.equal(await page.locator('#departments-comptabilite').count(), 0, 'no longer offered to a new server');
  s.t.equal(await page.locator('#departments-vente').count(), 1);

  await s.goto('/departments/comptabilite');
  await page.getByRole('button', { name: 'Réactiver le département' }).click();
  await s.until('reactivated', async () => (await page.locator('h1 .badge-inactive').count()) === 0);
  await s.goto('/departments');
  s.t.match(await page.locator('#department-comptabilite').innerText(), 'Finance');
});
