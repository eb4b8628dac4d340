/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// `npm run screenshots`: PNGs of the main pages into docs/screenshots/, taken in Debian's Chromium from the real app
// on a throwaway database filled with realistic servers. 1280×800, French, as an administrator sees them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import {
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
  await signIn(page, relais);

  await page.goto(relais.url('/smtp-servers'));
  await shoot(page, 'empty-list');

  const servers = await createServers(relais.app, realisticServers);
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

  await context.close();
  console.log(`Wrote ${written.length} screenshots:\n  ${written.join('\n  ')}`);
} finally {
  await browser.close();
  await relais.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
