/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// A password sealed by a key Relais no longer has, as a person sees it: the list, the form, the test's answer.
import { keyFromSecret, SecretBox } from '../../src/crypto/secret-box.js';
import { scenario } from './harness.js';
import { createServers } from './support.js';

scenario('a password no configured key opens is marked in the list, explained in the form, and the test says what to do', async (s) => {
  const { page } = s;
  const [server] = await createServers(s.app, [{ title: 'Achats Lyon', host: 'smtp.lyon.exemple.fr', email: 'achats@exemple.fr', senderName: 'Achats' }]);
  // The bytes a key dropped too early leaves behind: sealed by a key that is neither RELAIS_SECRET nor a previous one.
  const sealedElsewhere = new SecretBox(keyFromSecret('une clé que Relais n’a plus')).encrypt('Mot-de-passe-1!');
  await s.stores.servers.replaceEnvelope(server!.id, sealedElsewhere);

  await s.goto('/smtp-servers');
  const row = page.locator(`#server-${server!.id}`);
  s.t.equal(await row.locator('.badge-unreadable').innerText(), 'Mot de passe illisible', 'the list marks the server');

  await row.getByRole('button', { name: 'Tester la connexion Achats Lyon' }).click();
  await s.until('the refusal is shown', async () => (await page.locator('h1').innerText()) === 'Mot de passe enregistré illisible');
  s.t.match(await page.locator('.error-page').innerText(), 'Saisissez-le à nouveau dans le formulaire du serveur, ou redémarrez Relais avec l’ancienne clé dans RELAIS_PREVIOUS_SECRETS.');
  await page.getByRole('link', { name: 'Saisir à nouveau le mot de passe' }).click();

  await s.until('the edit form is shown', () => page.locator('#server-form').isVisible());
  s.t.equal(s.path(), `/smtp-servers/${server!.id}/edit`);
  s.t.equal(await page.locator('.password-status').innerText(), 'Mot de passe illisible');
  s.t.match(await page.locator('#password-hint').innerText(), 'Saisissez-le à nouveau, ou redémarrez Relais avec l’ancienne clé');
  await s.checkAccessibility('the form of a server whose password is unreadable');
  await page.getByLabel(/^Mot de passe/).fill('Nouveau-Secret-7!');
  await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await page.locator(`#server-${server!.id} .badge-unreadable`).count(), 0, 'typed again, the mark is gone');
  s.t.equal(await s.app.repositories.smtpServers.revealPassword(server!.id), 'Nouveau-Secret-7!');
});
