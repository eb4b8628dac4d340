/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// A save refused by a full database, in a real browser with JavaScript on (htmx) and off: what a person sees.
import { longSignature, fillDatabase, makeRoom } from '../store-faults.js';
import { scenario } from './harness.js';

scenario('a save on a full disk says so above the form and keeps what was typed; once there is room it saves', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers/new');
  await page.getByLabel('Titre').fill('Vente disque plein');
  await page.getByLabel('Hôte').fill('smtp.exemple.fr');
  await page.getByLabel('Port').fill('587');
  await page.getByLabel('Mail').fill('ventes@exemple.fr');
  await page.getByLabel('Nom d’envoi').fill('Service Vente');
  await page.getByLabel(/^Utilisateur(?! et)/).fill('ventes@exemple.fr');
  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  await page.locator('#signature').fill(longSignature);

  fillDatabase(s.app.database.sqlite);
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the failure is said', async () => (await page.locator('#error-summary').count()) === 1);
  s.t.equal(await page.locator('#error-summary').innerText(), 'L’enregistrement a échoué : espace disque insuffisant. Rien n’a été modifié ; réessayez quand de la place aura été libérée.');
  s.t.equal(await page.getByLabel('Titre').inputValue(), 'Vente disque plein', 'the title typed is kept');
  s.t.equal(await page.getByLabel('Nom d’envoi').inputValue(), 'Service Vente');
  s.t.equal(await page.getByLabel(/^Mot de passe/).inputValue(), '', 'the password is never sent back');
  s.t.equal((await s.app.repositories.smtpServers.listServers()).total, 0, 'nothing was saved');

  makeRoom(s.app.database.sqlite);
  await page.getByLabel(/^Mot de passe/).fill('Secret-1234!');
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Vente disque plein » a été créé.');
});
