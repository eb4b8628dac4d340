// Exporting what the list shows, from a real browser with JavaScript on and off: the files it downloads.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import type { Locator } from 'playwright-core';
import { scenario, type Scenario } from './harness.js';
import { createServers, type ServerSeed } from './support.js';

const servers: ServerSeed[] = [
  { title: 'Vente principale', host: 'smtp.vente.exemple.fr', email: 'ventes@exemple.fr', senderName: 'Service Vente', departments: ['vente'] },
  { title: 'Achats Lyon', host: 'mail.lyon.exemple.fr', email: 'achats@exemple.fr', senderName: 'Achats', departments: ['achat'] },
  { title: 'Production Lyon', host: 'relais.lyon.lan', security: 'none', authentication: 'none', email: 'prod@exemple.fr', senderName: 'Usine', departments: ['production'] },
];

/** Clicks an export link and returns the file the browser saved, with the name it suggested. */
async function download(s: Scenario, link: Locator): Promise<{ name: string; body: Buffer }> {
  const [file] = await Promise.all([s.page.waitForEvent('download'), link.click()]);
  const saved = path.join(s.t.testdirName, file.suggestedFilename());
  await file.saveAs(saved);
  return { name: file.suggestedFilename(), body: fs.readFileSync(saved) };
}

function csvRows(body: Buffer): string[][] {
  return parse(body, { bom: true, delimiter: ';' }) as string[][];
}

scenario('export what the list shows: CSV, Excel and PDF of a search, without the hidden columns', async (s) => {
  const { page } = s;
  await createServers(s.app, servers);
  await s.goto('/smtp-servers');
  const search = page.getByRole('searchbox', { name: 'Rechercher' });
  if (s.js) await search.pressSequentially('lyon');
  else {
    await search.fill('lyon');
    await page.getByRole('button', { name: 'Rechercher' }).click();
  }
  await s.until('the search is applied', async () => (await s.rowTitles()).length === 2);
  const exportLink = (name: string) => page.getByRole('group', { name: 'Exporter' }).getByRole('link', { name, exact: true });
  s.t.match(await exportLink('CSV').getAttribute('href'), /^\/smtp-servers\/export\.csv\?q=lyon/, 'the links follow the search');

  const csv = await download(s, exportLink('CSV'));
  s.t.match(csv.name, /^serveurs-smtp-\d{4}-\d{2}-\d{2}\.csv$/);
  const [header, ...rows] = csvRows(csv.body);
  s.t.ok(header!.includes('Titre') && header!.includes('Hôte'), 'the visible columns', { header });
  s.t.same(rows.map((row) => row[header!.indexOf('Titre')]), ['Achats Lyon', 'Production Lyon'], 'the rows of the search, in the list’s order');

  const xlsx = await download(s, exportLink('Excel'));
  s.t.match(xlsx.name, /\.xlsx$/);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(xlsx.body as unknown as ArrayBuffer);
  const cells: string[] = [];
  workbook.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((cell) => void cells.push(String(cell.value)))));
  s.t.ok(cells.includes('Achats Lyon') && cells.includes('Production Lyon'), 'the workbook holds the rows');
  s.t.notOk(cells.includes('Vente principale'), 'and only them');

  const pdf = await download(s, exportLink('PDF'));
  s.t.equal(pdf.body.subarray(0, 5).toString(), '%PDF-', 'a PDF');
  const pdfFile = path.join(s.t.testdirName, pdf.name);
  const text = await promisify(execFile)('pdftotext', ['-enc', 'UTF-8', pdfFile, '-']).then(
    (out) => out.stdout,
    () => null,
  );
  if (text === null) s.t.comment('pdftotext is missing: the PDF’s text was not checked');
  else s.t.ok(text.includes('Achats Lyon') && !text.includes('Vente principale'), 'the PDF lists the rows of the search');

  // Hide a column: the next export leaves it out too.
  await page.locator('details.columns-menu summary').click();
  await page.locator('details.columns-menu').getByLabel('Hôte').uncheck();
  await page.locator('details.columns-menu').getByRole('button', { name: 'Appliquer' }).click();
  await s.until('the column is hidden', async () => !(await s.columnHeaders()).includes('Hôte'));
  const [narrower] = csvRows((await download(s, exportLink('CSV'))).body);
  s.t.notOk(narrower!.includes('Hôte'), 'a hidden column is not exported', { header: narrower });
  s.t.ok(narrower!.includes('Titre'));
});
