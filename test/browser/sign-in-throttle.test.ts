/// <reference lib="dom" />
// What a person sees when sign-in attempts are held back: the wait, in words, next to the form.
import { scenario } from './harness.js';
import { admin } from './support.js';

scenario(
  'five wrong passwords from one place, then the right one: the login page says how long to wait',
  async (s) => {
    const { page } = s;
    await page.goto(s.url('/login'));
    for (let i = 1; i <= 5; i++) {
      await page.getByLabel('Adresse mail').fill(admin.email);
      await page.getByLabel('Mot de passe').fill(`pas le bon mot de passe ${i}`);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Se connecter' }).click()]);
      s.t.equal(await page.locator('#login-error').innerText(), 'Adresse mail ou mot de passe incorrect.', `failure ${i}`);
    }
    await page.getByLabel('Mot de passe').fill(admin.password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Se connecter' }).click()]);
    s.t.equal(await page.locator('#login-error').innerText(), 'Trop de tentatives de connexion échouées. Réessayez dans 15 minutes.');
    s.t.equal(await page.locator('#login-error').getAttribute('role'), 'alert', 'read out by screen readers');
    s.t.equal(await page.getByLabel('Adresse mail').inputValue(), admin.email, 'the address is kept');
    s.t.equal(s.path(), '/login', 'still on the login page, not signed in');
    await s.checkAccessibility('the login page with the wait');
  },
  { signIn: false, modes: ['js'] },
);
