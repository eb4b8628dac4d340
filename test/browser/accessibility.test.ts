/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// axe-core on every page, and the keyboard alone (Tab, Enter, Space, arrows) with a visible focus, JavaScript on and off.
import { scenario, type Scenario } from './harness.js';
import { admin, createServers, realisticServers } from './support.js';

scenario('axe finds no serious or critical violation on the pages', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers');
  await s.checkAccessibility('the empty list');

  await s.goto('/smtp-servers/new');
  await s.checkAccessibility('the new server form');
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await s.until('the errors are shown', () => page.locator('#error-summary').isVisible());
  await s.checkAccessibility('the form with errors');

  await createServers(s.app, realisticServers);
  await s.goto('/smtp-servers');
  await s.checkAccessibility('the list');
  await page.locator('details.columns-menu summary').click();
  await s.checkAccessibility('the list with the column menu open');

  await s.goto('/smtp-servers/1/edit');
  await s.checkAccessibility('the edit form');
  await s.goto('/smtp-servers/1/delete');
  await s.checkAccessibility('the delete confirmation');

  await page.goto(s.url('/smtp-servers/999/edit'));
  await s.checkAccessibility('the not-found page');

  await s.goto('/users');
  await s.checkAccessibility('the users page');
  await s.goto('/users/new');
  await s.checkAccessibility('the new user form');
  await s.goto('/users/1/edit');
  await s.checkAccessibility('the edit user form');
  await s.goto('/audit');
  await s.checkAccessibility('the audit page');
  await s.goto('/account/password');
  await s.checkAccessibility('the change-password page');
  await s.goto('/account/alerts');
  await s.checkAccessibility('the my-alerts page');
  await s.goto('/alertes');
  await s.checkAccessibility('the alerts settings page');

  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await s.until('the login page', () => s.path() === '/login');
  await s.checkAccessibility('the login page');
});

interface Focused {
  tag: string;
  id: string;
  name: string;
  role: string;
  type: string;
  text: string;
  focusVisible: boolean;
  outlined: boolean;
}

/** What has the keyboard focus, and whether it is shown (an outline or a ring). Synchronous: fine with JS off. */
function focused(s: Scenario): Promise<Focused | null> {
  return s.page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const labelled = (el as HTMLInputElement).labels?.[0]?.innerText ?? '';
    const ids = el.getAttribute('aria-labelledby');
    const named = ids ? ids.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ') : '';
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      name: el.getAttribute('name') ?? '',
      role: el.getAttribute('role') ?? '',
      type: el.getAttribute('type') ?? '',
      text: (named || el.querySelector('.visually-hidden')?.textContent || el.innerText || labelled || el.getAttribute('title') || '').replace(/\s+/g, ' ').trim(),
      focusVisible: el.matches(':focus-visible'),
      outlined: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || (style.boxShadow !== 'none' && style.boxShadow !== ''),
    };
  });
}

class Keyboard {
  readonly unseen: string[] = [];

  constructor(readonly s: Scenario) {}

  /** Presses Tab until the focus is on what `wanted` accepts; every stop on the way must show its focus. */
  async tabTo(what: string, wanted: (f: Focused) => boolean, maxStops = 120): Promise<Focused> {
    for (let i = 0; i < maxStops; i++) {
      await this.s.page.keyboard.press('Tab');
      const f = await focused(this.s);
      if (!f) continue;
      if (!f.focusVisible || !f.outlined) this.unseen.push(`${f.tag}#${f.id || f.name} "${f.text}" on ${this.s.path()}`);
      if (wanted(f)) return f;
    }
    throw new Error(`Tab never reached ${what} on ${this.s.path()}`);
  }

  press(key: string) {
    return this.s.page.keyboard.press(key);
  }

  type(text: string) {
    return this.s.page.keyboard.type(text);
  }
}

scenario(
  'the keyboard alone: sign in, sign out',
  async (s) => {
    const { page } = s;
    await page.goto(s.url('/smtp-servers'));
    await s.until('the login page', () => s.path().startsWith('/login'));
    const keys = new Keyboard(s);
    await keys.tabTo('the email field', (f) => f.id === 'email');
    await keys.type(admin.email);
    await keys.tabTo('the password field', (f) => f.id === 'password');
    await keys.type(admin.password);
    await keys.tabTo('the sign-in button', (f) => f.tag === 'button' && f.text === 'Se connecter');
    await keys.press('Enter');
    await s.until('signed in', () => s.path() === '/smtp-servers');
    await keys.tabTo('the sign-out button', (f) => f.tag === 'button' && f.text === 'Se déconnecter');
    await keys.press('Space');
    await s.until('signed out', () => s.path() === '/login');
    s.t.equal(await s.flash(), 'Vous êtes déconnecté.');
    s.t.same(keys.unseen, [], 'every element reached with Tab shows where the focus is');
  },
  { signIn: false },
);

scenario('the keyboard alone: sort headers, column menu, row actions', async (s) => {
  const { page } = s;
  await createServers(s.app, realisticServers.slice(0, 3));
  await s.goto('/smtp-servers');
  const keys = new Keyboard(s);

  const skip = await keys.tabTo('the skip link', () => true, 1);
  s.t.equal(skip.text, 'Aller au contenu', 'the first Tab reaches the skip link');

  await keys.tabTo('the Hôte header', (f) => f.tag === 'a' && /^Hôte/.test(f.text));
  await keys.press('Enter');
  const hostHeader = page.locator('#servers-table thead th.col-host');
  await s.until('sorted by host', async () => (await hostHeader.getAttribute('aria-sort')) === 'ascending');

  await keys.tabTo('the column menu', (f) => f.tag === 'summary');
  await keys.press('Enter');
  s.t.ok(await page.locator('details.columns-menu').evaluate((d) => (d as HTMLDetailsElement).open), 'Enter opens the column menu');
  await keys.tabTo('the Mail checkbox', (f) => f.type === 'checkbox' && f.text === 'Mail');
  await keys.press('Space');
  s.t.notOk(await page.locator('details.columns-menu').getByLabel('Mail').isChecked(), 'Space unticks it');
  await keys.tabTo('the Apply button', (f) => f.tag === 'button' && f.text === 'Appliquer');
  await keys.press('Enter');
  await s.until('the Mail column is hidden', async () => !(await s.columnHeaders()).includes('Mail'));
  s.t.ok((await s.columnHeaders()).includes('Hôte'), 'the other columns stay');

  await keys.tabTo('the duplicate button of a row', (f) => f.tag === 'button' && f.text === 'Dupliquer Achats — relais interne');
  await keys.press('Space');
  await s.until('the copy opens in the new-server form', () => /^\/smtp-servers\/new\?from=\d+$/.test(s.path()));
  s.t.equal(await page.getByLabel('Titre').inputValue(), 'Achats — relais interne (copie)');
  await keys.tabTo('the create button', (f) => f.tag === 'button' && f.text === 'Créer le serveur');
  await keys.press('Enter');
  await s.until('the copy is saved', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Achats — relais interne (copie) » a été créé.');

  await s.goto('/smtp-servers');
  await keys.tabTo('the delete link of the copy', (f) => f.tag === 'a' && f.text === 'Supprimer Achats — relais interne (copie)');
  await keys.press('Enter');
  await s.until('the confirmation page', () => s.path() === '/smtp-servers/4/delete');
  await keys.tabTo('the confirm button', (f) => f.tag === 'button' && f.text === 'Supprimer définitivement');
  await keys.press('Enter');
  await s.until('back on the list', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Achats — relais interne (copie) » a été supprimé.');

  await keys.tabTo('the edit link of a row', (f) => f.tag === 'a' && f.text === 'Modifier Production Lyon' && f.id === '');
  await keys.press('Enter');
  await s.until('the edit form', () => /^\/smtp-servers\/\d+\/edit$/.test(s.path()));
  await keys.tabTo('the title field', (f) => f.id === 'title');
  await keys.press('End');
  await keys.type(' (site 2)');
  await keys.press('Enter');
  await s.until('saved', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Production Lyon (site 2) » a été enregistré.');

  s.t.same(keys.unseen, [], 'every element reached with Tab shows where the focus is');
});

scenario('the keyboard alone: fill and send the form', async (s) => {
  const { page } = s;
  await s.goto('/smtp-servers');
  const keys = new Keyboard(s);
  await keys.tabTo('the add button', (f) => f.tag === 'a' && f.text.includes('Ajouter un serveur'));
  await keys.press('Enter');
  await s.until('the form', () => s.path() === '/smtp-servers/new');

  await keys.tabTo('the title field', (f) => f.id === 'title');
  await keys.type('Clavier seul');
  await keys.press('Tab');
  await keys.type('smtp.clavier.exemple.fr');
  await keys.tabTo('the security list', (f) => f.id === 'security');
  await keys.press('ArrowDown');
  s.t.equal(await page.locator('#security').inputValue(), 'tls', 'the arrow keys choose a security');
  // With JavaScript, choosing a security suggests its port; without, the visitor types it.
  if (s.js) s.t.equal(await page.locator('#port').inputValue(), '465', 'SSL/TLS suggests port 465');
  else {
    await page.keyboard.press('Shift+Tab');
    await keys.press('Control+A');
    await keys.type('465');
  }
  await keys.tabTo('the mail field', (f) => f.id === 'email');
  await keys.type('clavier@exemple.fr');
  await keys.press('Tab');
  await keys.type('Envoi au clavier');
  await keys.tabTo('the user field', (f) => f.id === 'username');
  await keys.type('clavier@exemple.fr');
  await keys.press('Tab');
  await keys.type('Clavier-Secret-7!');
  await keys.tabTo('the usage choice', (f) => f.id === 'usage-default');
  await keys.press('ArrowDown');
  s.t.ok(await page.locator('#usage-custom').isChecked(), 'the arrow keys choose the custom usage');
  await keys.tabTo('the Vente department', (f) => f.id === 'departments-vente');
  await keys.press('Space');
  await keys.tabTo('the create button', (f) => f.tag === 'button' && f.text === 'Créer le serveur');
  await keys.press('Enter');
  await s.until('the list is back', () => s.path() === '/smtp-servers');
  s.t.equal(await s.flash(), 'Le serveur « Clavier seul » a été créé.');

  const [saved] = (await s.app.repositories.smtpServers.listServers()).rows;
  const row = { title: saved?.title, host: saved?.host, port: saved?.port, security: saved?.security, usage: saved?.usage };
  s.t.same(row, { title: 'Clavier seul', host: 'smtp.clavier.exemple.fr', port: 465, security: 'tls', usage: 'custom' });
  s.t.same(keys.unseen, [], 'every element reached with Tab shows where the focus is');
});
