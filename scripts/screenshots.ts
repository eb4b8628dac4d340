/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// `npm run screenshots`: PNGs of the main pages into docs/screenshots/, taken in Debian's Chromium from the real app
// on a throwaway database filled with realistic servers. 1280×800, French, as an administrator sees them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { peerUser, startSmtpPeer } from '../test/smtp-peer.js';
import {
  admin,
  chromiumProblem,
  contextOptions,
  createServers,
  launchChromium,
  projectRoot,
  realisticServers,
  signIn,
  startRelais,
} from '../test/browser/support.js';

const outDir = path.join(projectRoot, 'docs', 'screenshots');

const problem = chromiumProblem();
if (problem) {
  console.error(`Cannot take screenshots: ${problem}`);
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-screenshots-'));
const relais = await startRelais(dir);
const browser = await launchChromium();
const written: string[] = [];
const cleanups: (() => unknown)[] = [];

async function shoot(page: Page, name: string) {
  const file = path.join(outDir, `${name}.png`);
  // Take the mouse away so no hover state shows.
  await page.mouse.move(0, 0);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  written.push(`${path.relative(projectRoot, file)} (${(fs.statSync(file).size / 1024).toFixed(0)} KB)`);
}

try {
  fs.mkdirSync(outDir, { recursive: true });
  const context = await browser.newContext(contextOptions(true));
  const page = await context.newPage();
  await page.goto(relais.url('/login'));
  await shoot(page, 'login');
  await signIn(page, relais);

  await page.goto(relais.url('/smtp-servers'));
  await shoot(page, 'empty-list');

  const asAdmin = { userId: 1, name: admin.email, ip: '192.168.10.24' };
  const servers = await createServers(relais.app, realisticServers, asAdmin);
  // A few confirmation states, as the confirmation feature records them, so the column shows what it can say.
  const day = 24 * 3600 * 1000;
  const setStatus = relais.app.database.sqlite.prepare(
    'UPDATE smtp_servers SET confirmation_status = ?, confirmed_at = ?, confirmation_sent_at = ?, confirmation_expires_at = ? WHERE id = ?',
  );
  const now = Date.UTC(2025, 2, 14, 9, 30);
  for (const [index, status] of [[0, 'confirmed'], [2, 'confirmed'], [3, 'confirmed'], [5, 'pending'], [8, 'confirmed']] as const) {
    const confirmed = status === 'confirmed';
    setStatus.run(status, confirmed ? now - index * day : null, now - index * day - 3600_000, confirmed ? null : now + 2 * day, servers[index]!.id);
  }

  await page.goto(relais.url('/smtp-servers'));
  await shoot(page, 'list');

  await page.locator('details.columns-menu summary').click();
  await shoot(page, 'column-menu');

  await page.goto(relais.url('/smtp-servers/new'));
  await page.getByLabel('Titre').fill('Vente — Microsoft 365');
  await page.getByLabel('Hôte').fill('smtp://smtp.office365.com');
  await page.getByLabel('Port').fill('587');
  await page.getByLabel('Mail').fill('ventes@acme-industrie');
  await page.getByLabel('Nom d’envoi').fill('ACME Service commercial');
  await page.getByRole('button', { name: 'Créer le serveur' }).click();
  await page.locator('#error-summary').waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shoot(page, 'form-errors');

  await page.goto(relais.url(`/smtp-servers/${servers[0]!.id}/delete`));
  await shoot(page, 'delete-confirmation');

  // A connection test against a real SMTP server on this machine.
  const peer = await startSmtpPeer({ teardown: (fn) => cleanups.push(fn) }, { disabledCommands: ['STARTTLS'], banner: 'mail.acme.lan ESMTP' });
  const [tested] = await createServers(relais.app, [
    { title: 'Relais atelier', host: '127.0.0.1', port: String(peer.port), security: 'none', email: peerUser.username, senderName: 'Atelier', username: peerUser.username, password: peerUser.password },
  ], asAdmin);
  await page.goto(relais.url('/smtp-servers?q=atelier'));
  await page.getByRole('button', { name: 'Tester la connexion Relais atelier', exact: true }).click();
  await page.waitForURL(`**/smtp-servers/${tested!.id}/test`);
  await shoot(page, 'connection-test');

  const actor = asAdmin;
  await relais.app.repositories.users.createUser({ email: 'camille.martin@acme-industrie.fr', displayName: 'Camille Martin', role: 'viewer', password: 'Tournesol-bleu-2024!' }, actor);
  await relais.app.repositories.users.createUser({ email: 'luc.bernard@acme-industrie.fr', displayName: 'Luc Bernard', role: 'admin', password: 'Marée-haute-sur-la-digue' }, actor);
  await page.goto(relais.url('/users'));
  await shoot(page, 'users');

  await page.goto(relais.url('/audit'));
  await shoot(page, 'audit');

  await context.close();
  console.log(`Wrote ${written.length} screenshots:\n  ${written.join('\n  ')}`);
} finally {
  for (const cleanup of cleanups) await cleanup();
  await browser.close();
  await relais.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
