/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Signing in and out, the users page and the audit page in a real browser, with JavaScript on and off.
import { scenario, type Scenario } from './harness.js';
import { admin, createServers, realisticServers } from './support.js';

const viewer = { email: 'lecture@acme-industrie.fr', password: 'Tournesol-bleu-2024!', name: 'Camille Martin' };

async function signOut(s: Scenario) {
  await s.page.getByRole('button', { name: 'Se déconnecter' }).click();
  await s.until('the login page', () => s.path() === '/login');
}

scenario(
  'sign in (a wrong password first), land on the page asked for, sign out',
  async (s) => {
    const { page } = s;
    await createServers(s.app, realisticServers.slice(0, 3));
    await page.goto(s.url('/smtp-servers?q=lyon'));
    s.t.equal(s.path(), '/login?next=%2Fsmtp-servers%3Fq%3Dlyon', 'an anonymous visitor is sent to the login page');
    s.t.equal(await page.locator('h1').innerText(), 'Connexion');
    await s.checkAccessibility('the login page');

    await page.getByLabel('Adresse mail').fill(admin.email);
    await page.getByLabel('Mot de passe').fill('pas-le-bon-mot-de-passe');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await s.until('the error is shown', async () => (await page.locator('#login-error').count()) === 1);
    s.t.equal(await page.locator('#login-error').innerText(), 'Adresse mail ou mot de passe incorrect.');
    s.t.equal(await page.getByLabel('Adresse mail').getAttribute('aria-invalid'), 'true');
    s.t.equal(await page.getByLabel('Adresse mail').inputValue(), admin.email, 'the address is kept');
    s.t.equal(await page.getByLabel('Mot de passe').inputValue(), '', 'the password is not');
    await s.checkAccessibility('the login page with its error');

    await page.getByLabel('Mot de passe').fill(admin.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await s.until('signed in, on the page asked for', () => s.path() === '/smtp-servers?q=lyon');
    s.t.same(await s.rowTitles(), ['Production Lyon']);
    s.t.match(await page.locator('.topnav').innerText(), 'Connecté : admin (Administrateur)');

    await signOut(s);
    s.t.equal(await s.flash(), 'Vous êtes déconnecté.');
    await page.goto(s.url('/smtp-servers'));
    s.t.match(s.path(), /^\/login\?next=/, 'after signing out the list asks for a sign-in again');
    const sessions = await Promise.all((await s.stores.users.list()).map((user) => s.stores.sessions.ofUser(user.id)));
    s.t.equal(sessions.flat().length, 0, 'the session is gone on the server too');
    const trail = (await s.stores.audit.list({ perPage: 1000 })).rows.reverse();
    const actions = trail.map((r) => r.action).filter((action) => action.startsWith('auth.'));
    s.t.same(actions, ['auth.loginFailed', 'auth.login', 'auth.logout'], 'the audit trail has all three');
  },
  { signIn: false },
);

scenario('users: create a read-only account (mistakes first); it sees no administrator control', async (s) => {
  const { page } = s;
  await createServers(s.app, realisticServers.slice(0, 2));
  await s.goto('/smtp-servers');
  await page.locator('.topnav').getByRole('link', { name: 'Utilisateurs' }).click();
  await s.until('the users page', () => s.path() === '/users');
  await s.checkAccessibility('the users page');
  await page.getByRole('link', { name: 'Ajouter un utilisateur' }).click();
  await s.until('the new user form', () => s.path() === '/users/new');

  await page.getByLabel('Adresse mail').fill('pas-une-adresse');
  await page.getByLabel('Nom').fill(viewer.name);
  await page.getByLabel('Mot de passe', { exact: true }).fill('court');
  await page.getByLabel('Confirmez le mot de passe').fill('court');
  await page.getByRole('button', { name: 'Créer l’utilisateur' }).click();
  await s.until('the errors are shown', async () => (await page.locator('.field-error').count()) > 0);
  const errorOf = (id: string) => page.locator('.field', { has: page.locator(`#${id}`) }).locator('.field-error');
  s.t.match(await errorOf('email').innerText(), 'Cette adresse mail n’est pas valide');
  s.t.match(await errorOf('password').innerText(), 'au moins 12 caractères');
  s.t.equal(await page.locator('.field-error').count(), 2, 'only the wrong fields');
  s.t.equal(await page.getByLabel('Nom').inputValue(), viewer.name, 'the name is kept');
  await s.checkAccessibility('the user form with errors');

  await page.getByLabel('Adresse mail').fill(viewer.email);
  await page.getByLabel('Mot de passe', { exact: true }).fill(viewer.password);
  await page.getByLabel('Confirmez le mot de passe').fill(viewer.password);
  s.t.ok(await page.getByLabel('Lecture seule').isChecked(), 'read-only is the default role');
  await page.getByRole('button', { name: 'Créer l’utilisateur' }).click();
  await s.until('back on the users page', () => s.path() === '/users');
  s.t.equal(await s.flash(), `Le compte de ${viewer.name} a été créé.`);
  s.t.match(await page.locator('table.users-table tbody').innerText(), viewer.email);

  await signOut(s);
  await page.getByLabel('Adresse mail').fill(viewer.email);
  await page.getByLabel('Mot de passe').fill(viewer.password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await s.until('signed in as the reader', () => s.path() === '/smtp-servers');
  s.t.match(await page.locator('.topnav').innerText(), `Connecté : ${viewer.name} (Lecture seule)`);
  s.t.equal((await s.rowTitles()).length, 2, 'the reader sees the list');
  s.t.equal(await page.getByRole('link', { name: 'Ajouter un serveur' }).count(), 0, 'no add button');
  s.t.equal(await page.locator('#servers-table .row-actions button, #servers-table .row-actions a').count(), 0, 'no row action');
  s.t.equal(await page.locator('.topnav').getByRole('link', { name: 'Utilisateurs' }).count(), 0, 'no users page in the menu');
  await s.checkAccessibility('the list seen by a reader');
  const refused = await page.goto(s.url('/users'));
  s.t.equal(refused?.status(), 403, 'the users page refuses a reader');
  s.t.match(await page.locator('main').innerText(), 'Votre compte est en lecture seule');
});

scenario('the audit page: newest first, filter by action and by text, next page', async (s) => {
  const { page } = s;
  await createServers(s.app, realisticServers.slice(0, 3));
  for (let i = 1; i <= 55; i++) {
    await s.app.repositories.audit.record({ userId: null, name: 'import', ip: '10.0.0.9' }, { action: 'server.test', targetType: 'smtp_server', targetId: 1, summary: `Essai ${i}` });
  }
  const { total } = await s.stores.audit.list();
  s.t.ok(total > 55, `${total} entries, more than a page`);
  await s.goto('/smtp-servers');
  await page.locator('.topnav').getByRole('link', { name: 'Journal', exact: true }).click();
  await s.until('the audit page', () => s.path() === '/audit');
  await s.checkAccessibility('the audit page');
  s.t.equal(await page.locator('#audit-count').innerText(), `1–50 sur ${total} entrées`);
  const firstRow = page.locator('table.audit-table tbody tr').first();
  s.t.match(await firstRow.innerText(), 'Essai 55', 'the newest first');

  await page.getByRole('link', { name: 'Suivant' }).click();
  await s.until('the second page', async () => (await page.locator('#audit-count').innerText()) === `51–${total} sur ${total} entrées`);

  await page.getByLabel('Action').selectOption({ label: 'Création de serveur' });
  await page.getByRole('button', { name: 'Filtrer' }).click();
  await s.until('only the creations', async () => (await page.locator('#audit-count').innerText()) === '1–3 sur 3 entrées');
  const actions = await page.locator('table.audit-table tbody .audit-action').allInnerTexts();
  s.t.same(actions, ['Création de serveur', 'Création de serveur', 'Création de serveur']);

  await page.getByLabel('Texte').fill('Lyon');
  await page.getByRole('button', { name: 'Filtrer' }).click();
  await s.until('one entry left', async () => (await page.locator('#audit-count').innerText()) === '1–1 sur 1 entrées');
  s.t.match(await page.locator('table.audit-table tbody').innerText(), 'Production Lyon');
  s.t.match(s.path(), /[?&]action=server\.create/, 'the filters are in the URL');

  await page.getByRole('link', { name: 'Effacer les filtres' }).click();
  await s.until('all entries again', async () => (await page.locator('#audit-count').innerText()) === `1–50 sur ${total} entrées`);
});
