/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Creating, editing, duplicating and deleting servers in a real browser, with JavaScript on and off.
import { scenario, type Scenario } from './harness.js';
import { createServers } from './support.js';

const serverCount = async (s: Scenario) => (await s.app.repositories.smtpServers.listServers()).total;

/** The error shown inside the field that holds this control. */
function errorOf(s: Scenario, controlId: string) {
  return s.page.locator('.field', { has: s.page.locator(`#${controlId}`) }).locator('.field-error');
}

scenario('create a server: each mistake is shown by its field, fixed, then saved', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers');
  await page.getByText('Aucun serveur').first().waitFor();
  await page.locator('.page-head').getByRole('link', { name: 'Ajouter un serveur' }).click();
  await s.until('the form is shown', () => page.locator('#server-form').isVisible());
  s.t.equal(s.path(), '/smtp-servers/new');

  await page.getByLabel('Hôte').fill('smtp://mail exemple.fr');
  await page.getByLabel('Port').fill('70000');
  await page.getByLabel('Mail').fill('pas-une-adresse');
  await page.getByLabel('Nom d’envoi').fill('Service Vente');
  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  await page.getByLabel('Utilisation personnalisée').check();
  const loadsBefore = s.loads;
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the errors are shown', () => page.locator('#error-summary').isVisible());

  const expected: Record<string, string> = {
    title: 'Donnez un titre au serveur.',
    host: 'Indiquez l’hôte sans « smtp:// » : seulement le nom, par exemple smtp.exemple.fr.',
    port: 'Le port est un nombre entier entre 1 et 65535.',
    email: 'Cette adresse mail n’est pas valide (exemple : achats@exemple.fr).',
    username: 'Indiquez l’utilisateur du compte mail.',
  };
  for (const [field, message] of Object.entries(expected)) {
    s.t.equal((await errorOf(s, field).innerText()).replace(/^⚠\s*/, ''), message, `the ${field} error is next to its field`);
    s.t.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true', `${field} is marked invalid`);
    s.t.match(await page.locator(`#${field}`).getAttribute('aria-describedby'), `${field}-error`, `${field} is described by its error`);
  }
  const departmentsError = page.locator('fieldset.departments #departments-error');
  s.t.equal((await departmentsError.innerText()).replace(/^⚠\s*/, ''), 'Choisissez au moins un service pour une utilisation personnalisée.');
  s.t.equal(await page.locator('.field-error').count(), 6, 'one error per wrong field, no more');
  s.t.match(await page.locator('#error-summary').innerText(), '6 erreurs');
  s.t.equal(await errorOf(s, 'senderName').count(), 0, 'the right field has no error');

  s.t.equal(await page.getByLabel('Hôte').inputValue(), 'smtp://mail exemple.fr', 'what was typed is kept');
  s.t.equal(await page.getByLabel('Nom d’envoi').inputValue(), 'Service Vente');
  s.t.equal(await page.getByLabel(/^Mot de passe/).inputValue(), '', 'the password is never sent back');
  s.t.equal(await serverCount(s), 0, 'nothing was saved');
  if (s.js) {
    s.t.equal(s.loads, loadsBefore, 'htmx swapped the form in place');
    s.t.equal(await page.evaluate(() => document.activeElement?.id), 'error-summary', 'the keyboard is taken to the error summary');
  }
  await s.checkAccessibility('the form with errors');

  // Follow the summary's first link to the field, as a keyboard user would.
  await page.locator('#error-summary a').first().click();
  await page.getByLabel('Titre').fill('Vente principale');
  await page.getByLabel('Hôte').fill('smtp.exemple.fr');
  await page.getByLabel('Port').fill('587');
  await page.getByLabel('Mail').fill('ventes@exemple.fr');
  await page.getByLabel(/^Utilisateur(?! et)/).fill('ventes@exemple.fr');
  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  await page.getByLabel('Vente', { exact: true }).check();
  await page.getByRole('button', { name: 'Créer le serveur' }).click();

  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Vente principale » a été créé.');
  s.t.same(await s.rowTitles(), ['Vente principale']);
  const [saved] = (await s.app.repositories.smtpServers.listServers()).rows;
  const row = { title: saved?.title, host: saved?.host, port: saved?.port, email: saved?.email, senderName: saved?.senderName, username: saved?.username, usage: saved?.usage };
  s.t.same(row, { title: 'Vente principale', host: 'smtp.exemple.fr', port: 587, email: 'ventes@exemple.fr', senderName: 'Service Vente', username: 'ventes@exemple.fr', usage: 'custom' });
  s.t.equal(await s.app.repositories.smtpServers.revealPassword(1), 'Secret-1234!');
});

scenario('edit with the password left blank keeps the stored password; a new host asks for it again', async (s) => {
  const { page } = s;
  const [server] = await createServers(s.app, [{ title: 'Achats Lyon', host: 'smtp.lyon.exemple.fr', email: 'achats@exemple.fr', senderName: 'Achats', password: 'Ancien-Secret-9!' }]);
  const ciphertext = async () => (await s.stores.servers.find(server!.id))?.passwordCiphertext;
  const before = await ciphertext();
  await s.goto('/smtp-servers');
  await page.getByRole('link', { name: 'Modifier Achats Lyon' }).click();
  await s.until('the edit form is shown', () => page.locator('#server-form').isVisible());
  s.t.equal(s.path(), `/smtp-servers/${server!.id}/edit`);
  s.t.equal(await page.locator('.password-status').innerText(), 'Mot de passe enregistré');
  s.t.equal(await page.getByLabel('Remplacer le mot de passe').inputValue(), '', 'the stored password is not in the page');
  s.t.notMatch(await page.content(), 'Ancien-Secret-9!');

  await page.getByLabel('Nom d’envoi').fill('Achats Lyon et Villeurbanne');
  await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Achats Lyon » a été enregistré.');
  s.t.match(await page.locator(`#server-${server!.id}`).innerText(), 'Achats Lyon et Villeurbanne');
  s.t.equal(await ciphertext(), before, 'the stored password was not touched');
  s.t.equal(await s.app.repositories.smtpServers.revealPassword(server!.id), 'Ancien-Secret-9!');

  // The stored password only ever goes to the server it was typed for.
  await page.getByRole('link', { name: 'Modifier Achats Lyon' }).click();
  await s.until('the edit form is shown', () => page.locator('#server-form').isVisible());
  await page.getByLabel('Hôte').fill('smtp2.lyon.exemple.fr');
  await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  const passwordError = page.locator('.field', { has: page.locator('#password') }).locator('.field-error');
  await s.until('the password is asked for again', async () => (await passwordError.count()) === 1);
  s.t.match(await passwordError.innerText(), 'Ressaisissez le mot de passe');
  s.t.equal(await page.getByLabel('Hôte').inputValue(), 'smtp2.lyon.exemple.fr', 'the new host is kept in the form');
  await page.getByLabel('Remplacer le mot de passe').fill('Nouveau-Secret-7!');
  await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  const after = (await s.app.repositories.smtpServers.findServer(server!.id))!;
  s.t.equal(after.host, 'smtp2.lyon.exemple.fr');
  s.t.equal(await s.app.repositories.smtpServers.revealPassword(server!.id), 'Nouveau-Secret-7!');
});

scenario('duplicate a server: the filled form saves nothing until « Créer le serveur », Cancel leaves no row', async (s) => {
  const { page } = s;
  await createServers(s.app, [{ title: 'Production Nord', host: 'smtp.nord.exemple.fr', email: 'prod@exemple.fr', senderName: 'Production', departments: ['production'] }]);
  const count = async () => (await s.app.repositories.smtpServers.listServers()).total;
  await s.goto('/smtp-servers');
  await page.getByRole('button', { name: 'Dupliquer Production Nord' }).click();
  await s.until('the copy opens in the new-server form', () => s.path() === '/smtp-servers/new?from=1');
  s.t.equal(await page.locator('h1').innerText(), 'Nouveau serveur SMTP');
  s.t.equal(await page.getByLabel('Titre').inputValue(), 'Production Nord (copie)');
  s.t.equal(await page.getByLabel('Hôte').inputValue(), 'smtp.nord.exemple.fr');
  s.t.ok(await page.getByLabel('Production', { exact: true }).isChecked(), 'the departments were copied');
  s.t.equal(await count(), 1, 'opening the copy saved nothing');

  await page.getByRole('link', { name: 'Annuler' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await count(), 1, 'Cancel leaves no row behind');
  s.t.same(await s.rowTitles(), ['Production Nord']);

  await page.getByRole('button', { name: 'Dupliquer Production Nord' }).click();
  await s.until('the copy opens again', () => s.path() === '/smtp-servers/new?from=1');
  await page.getByLabel('Titre').fill('Production Sud');
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.same(await s.rowTitles(), ['Production Nord', 'Production Sud']);
  s.t.equal(await s.app.repositories.smtpServers.revealPassword(2), 'Mot-de-passe-1!', 'same server, same password: reused');
});

scenario('delete a server through its confirmation page', async (s) => {
  const { page } = s;
  await createServers(s.app, [
    { title: 'Relais interne', host: 'relais.lan', security: 'none', authentication: 'none', email: 'relais@exemple.fr', senderName: 'Relais' },
    { title: 'Vente', host: 'smtp.vente.exemple.fr', email: 'vente@exemple.fr', senderName: 'Vente', departments: ['vente'] },
  ]);
  await s.goto('/smtp-servers');
  await page.getByRole('link', { name: 'Supprimer Relais interne' }).click();
  await s.until('the confirmation page is shown', () => s.path() === '/smtp-servers/1/delete');
  s.t.equal(await page.locator('h1').innerText(), 'Supprimer « Relais interne » ?');
  s.t.match(await page.locator('.confirm-panel').innerText(), 'relais.lan');
  await s.checkAccessibility('the delete confirmation');

  await page.getByRole('link', { name: 'Annuler' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await serverCount(s), 2, 'cancelling deletes nothing');

  await page.getByRole('link', { name: 'Supprimer Relais interne' }).click();
  await s.until('the confirmation page is shown', () => s.path() === '/smtp-servers/1/delete');
  await page.getByRole('button', { name: 'Supprimer définitivement' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Relais interne » a été supprimé.');
  s.t.same(await s.rowTitles(), ['Vente']);
  s.t.equal(await serverCount(s), 1);
});

scenario('every failed submit, the first and the next, brings the error summary into view and takes focus to it', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers/new');
  const summaryState = () =>
    page.evaluate(() => {
      const summary = document.getElementById('error-summary');
      const box = summary?.getBoundingClientRect();
      return {
        focused: document.activeElement?.id ?? '',
        // Scrolled flush with the top, the box may start half a pixel above it.
        inView: !!box && box.top > -1 && box.top < window.innerHeight,
        text: summary?.innerText ?? '',
      };
    });
  const submitFromTheBottom = async () => {
    await page.getByRole('button', { name: 'Créer le serveur' }).scrollIntoViewIfNeeded();
    await page.getByRole('button', { name: 'Créer le serveur' }).click();
  };

  await submitFromTheBottom();
  await s.until('the first errors are shown', async () => (await summaryState()).text.includes('Donnez un titre'));
  await s.until('the summary has focus after the first submit', async () => (await summaryState()).focused === 'error-summary');
  s.t.ok((await summaryState()).inView, 'the summary is on screen after the first submit');

  await page.getByLabel('Titre').fill('Vente');
  await page.getByLabel('Hôte').fill('smtp.exemple.fr:587');
  await submitFromTheBottom();
  await s.until('the second errors are shown', async () => (await summaryState()).text.includes('indiquez le port dans le champ Port'));
  await s.until('the summary has focus after the second submit', async () => (await summaryState()).focused === 'error-summary');
  const second = await summaryState();
  s.t.ok(second.inView, 'the summary is on screen after the second submit');
  s.t.notMatch(second.text, 'Donnez un titre', 'the summary lists the new mistakes only');
});

scenario('an unusual port and security: warned in words, saved once confirmed, marked in the list', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers/new');
  const warning = page.locator('#combination-warning');
  await page.getByLabel('Titre').fill('Ancien relais');
  await page.getByLabel('Hôte').fill('smtp.ancien.exemple.fr');
  await page.getByLabel('Sécurité').selectOption('tls');
  await page.getByLabel('Port').fill('587');
  await page.getByLabel('Mail').fill('relais@exemple.fr');
  await page.getByLabel('Nom d’envoi').fill('Relais');
  await page.getByLabel(/^Utilisateur(?! et)/).fill('relais@exemple.fr');
  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  if (s.js) {
    await s.until('the warning shows as the port is typed', () => warning.isVisible());
    s.t.match(await warning.innerText(), 'SSL/TLS sur le port 587 ou 25');
    s.t.notMatch(await warning.innerText(), 'en clair :', 'only the mismatch that applies');
  } else {
    s.t.notOk(await warning.isVisible(), 'without JavaScript the warning waits for the submit');
  }
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  const boxError = page.locator('#combination .field-error');
  await s.until('the confirmation is asked for', async () => (await boxError.count()) === 1);
  s.t.match(await boxError.innerText(), 'cochez « Je confirme cette combinaison »');
  s.t.ok(await warning.isVisible(), 'the warning is next to the fields');
  s.t.equal(await page.evaluate(() => document.activeElement?.id), 'error-summary');
  s.t.equal((await s.app.repositories.smtpServers.listServers()).total, 0, 'nothing saved yet');

  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  await page.getByLabel('Je confirme cette combinaison').check();
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await page.locator('#server-1 .badge-unusual').innerText(), 'combinaison inhabituelle');
  s.t.equal((await s.app.repositories.audit.list({ action: 'server.unusualCombination' })).total, 1, 'audited');
});
