/// <reference lib="dom" />
// The server form's OAuth2 modes in a real browser: with JavaScript only the chosen mode's fields are shown; without
// it every group is there under its legend, and the server keeps only the chosen one.
import { scenario } from './harness.js';

for (const mode of ['oauth2-microsoft', 'oauth2-google'] as const) {
  scenario(`the form in the mode ${mode}: its fields shown, the others hidden with JS, all grouped without`, async (s) => {
    const { page } = s;
    await s.goto('/smtp-servers/new');
    await s.until('the form is shown', () => page.locator('#server-form').isVisible());
    await page.getByLabel('Titre').fill(`Serveur ${mode}`);
    await page.getByLabel('Hôte').fill(mode === 'oauth2-microsoft' ? 'smtp.office365.com' : 'smtp.gmail.com');
    await page.getByLabel('Mail').fill('ventes@exemple.fr');
    await page.getByLabel('Nom d’envoi').fill('Service Vente');
    await page.locator(`#authentication-${mode}`).check();
    const microsoft = page.locator('[data-auth-group="oauth2-microsoft"]');
    const google = page.locator('[data-auth-group="oauth2-google"]');
    const password = page.locator('[data-auth-group="password"]');
    if (s.js) {
      await s.until('the chosen mode alone is shown', async () => (await (mode === 'oauth2-microsoft' ? microsoft : google).isVisible()) && !(await password.isVisible()));
      s.t.equal(await (mode === 'oauth2-microsoft' ? google : microsoft).isVisible(), false, 'the other OAuth2 group is hidden');
      s.t.equal(await page.locator('[data-no-js-only]').isVisible(), false);
    } else {
      for (const group of [microsoft, google, password]) s.t.equal(await group.isVisible(), true, 'every group is shown without JavaScript');
      s.t.match(await page.locator('[data-no-js-only]').innerText(), 'Ne remplissez que le groupe de l’authentification choisie');
      // A password typed in the wrong group is ignored on save.
      await page.locator('#password').fill('Ignored-Password-1');
    }
    await page.locator('#username').fill('ventes@exemple.fr');
    if (mode === 'oauth2-microsoft') {
      s.t.match(await page.locator('#oauth-microsoft-steps').innerText(), 'New-ServicePrincipal');
      await page.getByLabel('Locataire (ID ou domaine)').fill('contoso.onmicrosoft.com');
      await page.getByLabel('ID d’application (client)').fill('11111111-2222-3333-4444-555555555555');
      await page.getByLabel('Secret client').fill('Browser~Client-Secret');
    } else {
      await page.getByLabel('Clé JSON du compte de service').fill(JSON.stringify({ type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key: 'no' }));
    }
    await page.getByRole('button', { name: 'Créer le serveur' }).click();
    if (mode === 'oauth2-google') {
      // A key without a usable private key is refused by its field (the form comes back, the key is not sent back).
      await s.until('the key error is shown', () => page.locator('#oauthServiceAccountKey-error').isVisible());
      s.t.match(await page.locator('#oauthServiceAccountKey-error').innerText(), 'client_email et private_key');
      s.t.equal(await page.locator('#oauthServiceAccountKey').inputValue(), '', 'the key is never sent back to the browser');
      return;
    }
    await s.until('saved', () => page.locator('.flash').first().isVisible());
    const [row] = (await s.app.repositories.smtpServers.listServers()).rows;
    const stored = (await s.stores.servers.find(row!.id))!;
    s.t.equal(stored.authentication, 'oauth2-microsoft');
    s.t.equal(stored.oauthTenant, 'contoso.onmicrosoft.com');
    s.t.equal(stored.passwordCiphertext, null, 'the password group was ignored');
    s.t.match(stored.oauthSecretCiphertext, /^v1:/);
  });
}
