/// <reference lib="dom" />
// The signature's preview and the logo upload in a real browser, with JavaScript on and off.
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './harness.js';
import { createServers } from './support.js';
import { gif, pngOf } from '../signature-images.js';

scenario('the signature preview follows the typing (JS) or the « Prévisualiser » button (no JS), showing the real logo', async (s) => {
  const { page } = s;
  const [server] = await createServers(s.app, [{ title: 'Vente', host: 'smtp.exemple.fr', email: 'ventes@exemple.fr', senderName: 'Service Vente' }]);
  const logo = pngOf(80, 30);
  await s.stores.logos.put({ serverId: server!.id, contentType: 'image/png', bytes: logo, width: 80, height: 30, size: logo.length, updatedAt: new Date() });
  await s.goto(`/smtp-servers/${server!.id}/edit`);

  const insert = page.getByRole('button', { name: 'Insérer le logo' });
  const preview = page.locator('#signature-preview');
  const loadsBefore = s.loads;
  if (s.js) {
    await page.getByLabel('Signature').fill('<b>Jean Dupont</b><br><img src="https://evil.example/pixel.png"> ');
    await insert.click();
    await s.until('the preview shows the typed signature', async () => (await preview.locator('b').count()) === 1);
    s.t.equal(s.loads, loadsBefore, 'htmx updated the preview in place');
    s.t.match(await page.getByLabel('Signature').inputValue(), '<img src="cid:logo" alt="Logo">', 'the button inserted the placeholder');
  } else {
    s.t.equal(await insert.isVisible(), false, 'without JavaScript the insert button is hidden (the hint says what to write)');
    await page.getByLabel('Signature').fill('<b>Jean Dupont</b><br><img src="https://evil.example/pixel.png"> <img src="cid:logo" alt="Logo">');
    await page.getByRole('button', { name: 'Prévisualiser' }).click();
    await s.until('the form comes back with the preview', () => s.loads > loadsBefore);
    s.t.equal(await page.getByLabel('Titre').inputValue(), 'Vente', 'the other values are kept');
  }
  s.t.equal(await preview.locator('b').innerText(), 'Jean Dupont');
  s.t.match(await preview.innerText(), 'Retiré à l’enregistrement : <img src="https://evil.example/pixel.png">', 'what will be removed is said');
  const image = preview.locator('img');
  s.t.equal(await image.count(), 1, 'only the logo is shown, not the foreign image');
  s.t.match(await image.getAttribute('src'), `/smtp-servers/${server!.id}/logo?v=`);
  await s.until('the logo is loaded through the authenticated route', () => image.evaluate((img) => (img as HTMLImageElement).naturalWidth === 80));
  await s.checkAccessibility('the signature with its preview');
});

scenario('a logo chosen in the form is saved with the server', async (s) => {
  const { page } = s;
  const [server] = await createServers(s.app, [{ title: 'Achats', host: 'smtp.exemple.fr', email: 'achats@exemple.fr', senderName: 'Service Achats' }]);
  const file = path.join(s.t.testdir(), 'logo.gif');
  fs.writeFileSync(file, gif);
  await s.goto(`/smtp-servers/${server!.id}/edit`);
  await page.getByLabel('Signature').fill('<p>Service Achats</p><img src="cid:logo" alt="Logo">');
  await page.getByLabel('Logo', { exact: true }).setInputFiles(file);
  await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await s.until('back on the list', () => s.path().startsWith('/smtp-servers') && !s.path().includes('/edit'));
  const stored = await s.stores.logos.find(server!.id);
  s.t.ok(stored?.bytes.equals(gif), 'the logo is stored');
  s.t.equal(stored?.contentType, 'image/gif');
  s.t.equal((await s.app.repositories.smtpServers.findServer(server!.id))?.signature, '<p>Service Achats</p><img src="cid:logo" alt="Logo">');
});
