import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { seedBenchDatabase } from '../bench/seed.js';
import type { ServerConfirmation } from '../src/confirmation/store.js';
import { csvRecord, csvSeparatorFrom } from '../src/smtp-servers/export/csv.js';
import { neutralizeFormula, wallClock } from '../src/smtp-servers/export/columns.js';
import { ExportAborted, nextDrain } from '../src/smtp-servers/export/flow.js';
import { wrapText } from '../src/smtp-servers/export/pdf.js';
import { sheetBacklog } from '../src/smtp-servers/export/xlsx.js';
import { adminClient, buildTestApp, Client, seedServers, text, viewerClient } from './helper.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;

interface Download {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
}

/** A download as a browser makes it: the client's cookies (language, visible columns), raw bytes back. */
async function download(client: Client, url: string, headers: Record<string, string> = {}): Promise<Download> {
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await client.app.inject({ method: 'GET', url, headers: { cookie, ...headers } });
  return { statusCode: res.statusCode, headers: res.headers, body: res.rawPayload };
}

function csvRows(body: Buffer, delimiter = ';'): string[][] {
  return parse(body, { bom: true, delimiter, relax_column_count: false }) as string[][];
}

async function readXlsx(body: Buffer) {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(body as unknown as ArrayBuffer);
  return workbook;
}

/** Every cell of every sheet, as text. */
function allCellTexts(workbook: ExcelJS.Workbook): string[] {
  const texts: string[] = [];
  workbook.eachSheet((sheet) =>
    sheet.eachRow((row) =>
      row.eachCell((cell) => {
        texts.push(String(cell.value instanceof Date ? cell.value.toISOString() : cell.value));
      }),
    ),
  );
  return texts;
}

/** Where the PDFs are written for pdftotext and pdfinfo (t.testdir() may be called only once per test). */
const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-export-'));
t.teardown(() => fs.rmSync(scratchDir, { recursive: true, force: true }));

/** The PDF's text as pdftotext reads it. */
function pdfText(_app: App, body: Buffer, layout = false): { text: string; pages: number } {
  const file = path.join(scratchDir, 'export.pdf');
  fs.writeFileSync(file, body);
  const text = execFileSync('pdftotext', [...(layout ? ['-layout'] : []), '-enc', 'UTF-8', file, '-']).toString('utf8');
  const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [file]).toString())?.[1]);
  return { text, pages };
}

/** The export rows of the audit trail, once there are `count` of them (each is written as its file completes). */
async function exportAudit(app: App, count: number) {
  const read = async () =>
    (await app.repositories.audit.list({ action: 'server.export', perPage: 100 })).rows
      .reverse()
      .map((r) => ({ action: r.action, targetType: r.targetType, summary: r.summary, actor: r.actor }));
  for (let i = 0; i < 100 && (await read()).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return read();
}

const frenchHeader = ['ID', 'Titre', 'Hôte', 'Port', 'Authentification', 'Sécurité', 'Mail', 'Nom d’envoi', 'Utilisateur', 'Usage', 'Confirmation'];

/** 60 servers, more than two pages of 25; server 7 has accents and Cyrillic, 8 a long host, 9 serves Achat and Production. */
async function seedSixty(app: App) {
  return seedServers(app, 60, (i) => {
    if (i === 7) return { title: 'Équipe à façade — Поставки', senderName: 'Ça va – Édition', usage: 'default', departments: [] };
    if (i === 8) return { host: 'relais-sortant-principal.services-internes.groupe-exemple-industrie.fr' };
    if (i === 9) return { departments: ['achat', 'production'], port: '465', security: 'tls' };
    return {};
  });
}

t.test('CSV: every matching row (not one page), the visible columns in the page’s words, BOM and “;” in French', async (t) => {
  const app = await buildTestApp(t);
  await seedSixty(app);
  const client = await adminClient(app);
  const res = await download(client, '/smtp-servers/export.csv?per=25&page=2');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/csv; charset=utf-8; header=present');
  t.match(res.headers['content-disposition'], /^attachment; filename="serveurs-smtp-\d{4}-\d{2}-\d{2}\.csv"$/);
  t.equal(res.headers['cache-control'], 'no-store');
  t.same([...res.body.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte-order mark');
  t.match(res.body.toString('utf8'), /\r\n$/, 'CRLF line ends');

  const rows = csvRows(res.body);
  t.same(rows[0], frenchHeader, 'the columns of the table, without Lien(s)');
  t.equal(rows.length, 61, 'all 60 servers, not the 25 of the page');
  const nine = rows.find((r) => r[1] === 'Serveur 009')!;
  t.same(nine, [
    nine[0],
    'Serveur 009',
    'smtp.exemple.fr',
    '465',
    'Mot de passe',
    'SSL/TLS',
    'ventes@exemple.fr',
    'Service Vente',
    'ventes@exemple.fr',
    'Achat, Production',
    'Non confirmé',
  ]);
  t.match(nine[0], /^\d+$/);
  const seven = rows.find((r) => r[1] === 'Équipe à façade — Поставки');
  t.ok(seven, 'accents and Cyrillic intact');
  t.equal(seven![7], 'Ça va – Édition');
  t.equal(seven![9], 'Par défaut');
  const listed = (await app.repositories.smtpServers.listServers({ perPage: 100 })).rows.map((server) => server.title);
  t.same(
    rows.slice(1).map((r) => r[1]),
    listed,
    'in the order of the page (title)',
  );
});

t.test('CSV: “,” in English, ?sep= overrides, English words and file name', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3, (i) => ({ senderName: `Vente; Paris, étage ${i}` }));
  const client = await adminClient(app);
  const english = { 'accept-language': 'en-GB,en;q=0.9' };

  const en = await download(client, '/smtp-servers/export.csv', english);
  t.match(en.headers['content-disposition'], /filename="smtp-servers-\d{4}-\d{2}-\d{2}\.csv"/);
  const enRows = csvRows(en.body, ',');
  t.same(enRows[0], ['ID', 'Title', 'Host', 'Port', 'Authentication', 'Security', 'Email', 'Sender name', 'User', 'Usage', 'Confirmation']);
  t.equal(enRows[1]![7], 'Vente; Paris, étage 1', 'a field holding the separator is quoted');
  t.equal(enRows[1]![4], 'Password');
  t.equal(enRows[1]![10], 'Not confirmed');
  t.match(en.body.toString('utf8'), '"Vente; Paris, étage 1"');

  const tab = await download(client, '/smtp-servers/export.csv?sep=tab', english);
  t.equal(csvRows(tab.body, '\t')[1]![7], 'Vente; Paris, étage 1');
  t.match(tab.body.toString('utf8').split('\r\n')[0], /^\uFEFFID\tTitle\tHost\t/);

  const semicolon = await download(client, `/smtp-servers/export.csv?sep=${encodeURIComponent(';')}`, english);
  t.match(semicolon.body.toString('utf8').split('\r\n')[0], /^\uFEFFID;Title;/);
  const comma = await download(client, '/smtp-servers/export.csv?sep=,');
  t.match(comma.body.toString('utf8').split('\r\n')[0], /^\uFEFFID,Titre,/, 'French with ?sep=,');
  const unknown = await download(client, '/smtp-servers/export.csv?sep=|');
  t.match(unknown.body.toString('utf8').split('\r\n')[0], /^\uFEFFID;Titre;/, 'an unknown separator falls back to the language’s');

  t.equal(csvSeparatorFrom('TAB', 'fr'), '\t');
  t.equal(csvSeparatorFrom(['comma'], 'fr'), ',');
  t.equal(csvSeparatorFrom(undefined, 'en'), ',');
});

t.test('the search, the sort and the visible columns of the page are what is exported', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 30, (i) => ({
    title: i % 3 === 0 ? `Achats ${String(i).padStart(2, '0')}` : `Vente ${String(i).padStart(2, '0')}`,
    port: String(1000 + ((i * 7) % 30)),
    usage: i % 3 === 0 ? 'custom' : 'default',
    departments: i % 3 === 0 ? ['achat'] : [],
  }));
  const client = await adminClient(app);
  const columns = await client.post('/smtp-servers/columns', { columns: ['port', 'title', 'links', 'usage'] });
  t.equal(columns.statusCode, 303);

  const res = await download(client, '/smtp-servers/export.csv?q=achats&sort=port&dir=desc');
  const rows = csvRows(res.body);
  t.same(rows[0], ['Titre', 'Port', 'Usage'], 'only the visible columns, in the table’s order, never the actions');
  t.equal(rows.length - 1, 10, 'only the servers the search finds');
  t.ok(rows.slice(1).every((r) => r[0]!.startsWith('Achats')));
  const ports = rows.slice(1).map((r) => Number(r[1]));
  t.same(ports, [...ports].sort((a, b) => b - a), 'in the page’s order: port, descending');

  const page = await client.get('/smtp-servers?q=achats&sort=port&dir=desc&per=50');
  const titlesOnPage = [...page.body.matchAll(/<th id=t\d+>(?:<a [^>]*>)?([^<]+)/g)].map((m) => m[1]!.trim());
  t.same(
    rows.slice(1).map((r) => r[0]),
    titlesOnPage,
    'the same rows in the same order as the list',
  );

  const xlsx = await readXlsx((await download(client, '/smtp-servers/export.xlsx?q=achats&sort=port&dir=desc')).body);
  t.same(xlsx.worksheets[0]!.getRow(1).values, [undefined, 'Titre', 'Port', 'Usage']);
  const pdf = pdfText(app, (await download(client, '/smtp-servers/export.pdf?q=achats&sort=port&dir=desc')).body);
  t.match(pdf.text, 'Recherche : « achats »');
  t.match(pdf.text, 'Tri : Port, décroissant');
  t.notMatch(pdf.text, 'Hôte', 'hidden columns are not in the PDF either');
  t.notMatch(pdf.text, 'Vente 01');
});

t.test('Excel: a real workbook with a bold frozen header, autofilter, widths, numbers as numbers, dates as dates', async (t) => {
  const app = await buildTestApp(t);
  const servers = await seedSixty(app);
  const confirmedAt = new Date('2026-03-15T09:30:00Z');
  await app.stores.confirmations.setServerConfirmation(servers[0]!.id, { status: 'confirmed', confirmedAt });
  const client = await adminClient(app);
  const res = await download(client, '/smtp-servers/export.xlsx');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  t.match(res.headers['content-disposition'], /^attachment; filename="serveurs-smtp-\d{4}-\d{2}-\d{2}\.xlsx"$/);

  const workbook = await readXlsx(res.body);
  const sheet = workbook.worksheets[0]!;
  t.equal(sheet.name, 'Serveurs SMTP', 'the sheet is named after the page');
  t.equal(sheet.rowCount, 61);
  t.same(sheet.getRow(1).values, [undefined, ...frenchHeader]);
  t.equal(sheet.getRow(1).getCell(1).font?.bold, true, 'bold header');
  t.match(sheet.views[0], { state: 'frozen', ySplit: 1 }, 'frozen header row');
  t.equal(String(sheet.autoFilter), 'A1:K61', 'autofilter over the whole table');
  t.ok(sheet.columns.every((c) => (c.width ?? 0) >= 8), 'every column has a width');
  t.ok(sheet.getColumn(2).width! > sheet.getColumn(1).width!, 'the title column is wider than the ID column');

  // "Équipe …" sorts first (accents sort as letters); the first "Serveur" row follows it.
  t.equal(sheet.getRow(2).getCell(2).value, 'Équipe à façade — Поставки');
  const first = sheet.getRow(3);
  t.equal(first.getCell(2).value, 'Serveur 001');
  t.equal(typeof first.getCell(1).value, 'number', 'ID is a number');
  t.equal(first.getCell(4).value, 587, 'port is a number');
  const confirmed = first.getCell(11);
  t.ok(confirmed.value instanceof Date, 'the confirmation date is a date');
  t.equal((confirmed.value as Date).toISOString(), '2026-03-15T10:30:00.000Z', 'shown at Paris time, as on the page');
  t.equal(confirmed.numFmt, '"Confirmé le "dd/mm/yyyy hh:mm', 'formatted with the page’s words around it');
  t.equal(sheet.getRow(4).getCell(11).value, 'Non confirmé');
  const seven = sheet.getRows(2, 60)!.find((row) => row.getCell(2).value === 'Équipe à façade — Поставки');
  t.ok(seven, 'accents and Cyrillic intact');
});

t.test('the Confirmation column has the words of the page: every state, and the last test', async (t) => {
  const app = await buildTestApp(t);
  const servers = await seedServers(app, 6);
  const at = (iso: string) => new Date(iso);
  const update = async (server: { id: number; version: number }, state: Partial<ServerConfirmation>, test?: { at: Date; ok: boolean }) => {
    await app.stores.confirmations.setServerConfirmation(server.id, { confirmedAt: null, sentAt: null, expiresAt: null, error: null, ...state });
    if (test) await app.stores.probes.recordOnServer(server.id, { ...test, report: '{}' }, server.version);
  };
  await update(servers[0]!, { status: 'confirmed', confirmedAt: at('2026-03-15T09:30:00Z') });
  await update(servers[1]!, { status: 'pending', sentAt: new Date(Date.now() - 60_000), expiresAt: new Date(Date.now() + 86_400_000) });
  await update(servers[2]!, { status: 'pending', sentAt: at('2026-01-02T08:00:00Z'), expiresAt: at('2026-01-04T08:00:00Z') });
  await update(servers[3]!, { status: 'failed', error: JSON.stringify({ key: 'diagnosis.hostNotFound', params: { host: 'smtp.nulle-part.test' } }) });
  await update(servers[4]!, { status: 'unconfirmed' }, { at: at('2026-02-01T12:00:00Z'), ok: true });
  await update(servers[5]!, { status: 'confirmed', confirmedAt: at('2026-03-15T09:30:00Z') }, { at: at('2026-02-01T12:00:00Z'), ok: false });
  const client = await adminClient(app);

  const page = await client.get('/smtp-servers?sort=id');
  const onPage = [...page.body.matchAll(/<td class=col-confirmation>([\s\S]*?)(?=<td|<\/tr>)/g)].map((m) => text(m[1]!).replace(/[✔✘]/g, '').replace(/\s+/g, ' ').trim());
  const rows = csvRows((await download(client, '/smtp-servers/export.csv?sort=id')).body).slice(1);
  t.same(
    rows.map((r) => r[10]!.replace(/\s+/g, ' ')),
    onPage,
    'the same words as the table, for each state',
  );
  t.equal(rows[0]![10], 'Confirmé le 15/03/2026 10:30');
  t.match(rows[1]![10], /^En attente \(envoyé le /);
  t.match(rows[2]![10], /^Lien expiré le 04\/01\/2026 09:00/);
  t.match(rows[3]![10], 'smtp.nulle-part.test');
  t.equal(rows[4]![10], 'Non confirmé\nTest réussi le 01/02/2026 13:00', 'the last test on a line of its own');
  t.equal(rows[5]![10], 'Confirmé le 15/03/2026 10:30\nTest échoué le 01/02/2026 13:00');

  const sheet = (await readXlsx((await download(client, '/smtp-servers/export.xlsx?sort=id')).body)).worksheets[0]!;
  t.ok(sheet.getRow(2).getCell(11).value instanceof Date, 'confirmed: a date');
  t.equal(sheet.getRow(7).getCell(11).value, 'Confirmé le 15/03/2026 10:30\nTest échoué le 01/02/2026 13:00', 'with a test line: text');
});

t.test('PDF: A4 landscape, title, date, search, header on every page, wrapped values, page numbers, Unicode text', async (t) => {
  const app = await buildTestApp(t);
  await seedSixty(app);
  const client = await adminClient(app);
  const res = await download(client, '/smtp-servers/export.pdf');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'application/pdf');
  t.match(res.headers['content-disposition'], /^attachment; filename="serveurs-smtp-\d{4}-\d{2}-\d{2}\.pdf"$/);
  t.equal(res.body.subarray(0, 5).toString(), '%PDF-');

  const file = path.join(scratchDir, 'size.pdf');
  fs.writeFileSync(file, res.body);
  t.match(execFileSync('pdfinfo', [file]).toString(), /Page size:\s+841\.89 x 595\.28 pts \(A4\)/, 'A4 landscape');

  const { text: plain, pages } = pdfText(app, res.body);
  t.ok(pages >= 2, `several pages (${pages})`);
  t.match(plain, 'Gestion des Serveurs de messagerie (SMTP)');
  t.match(plain, /Exporté le \d{2}\/\d{2}\/\d{4} \d{2}:\d{2} · 60 serveurs/);
  t.match(plain, 'Tous les serveurs (aucune recherche)');
  t.equal(plain.match(/Authentification/g)?.length, pages, 'the header row is on every page');
  for (let page = 1; page <= pages; page++) t.match(plain, `page ${page} / ${pages}`);
  t.match(plain, 'Поставки', 'Cyrillic is rendered as text');
  t.match(plain, 'Équipe à façade');
  t.match(plain, 'Ça va – Édition');
  for (let i = 1; i <= 60; i++) if (i !== 7) t.match(plain, `Serveur ${String(i).padStart(3, '0')}`, `row ${i} is there`);
  // pdftotext joins a line that ends with "-" to the next one without the hyphen: compare without hyphens.
  const flat = plain.replace(/[\s-]+/g, '');
  t.match(flat, 'relaissortantprincipal.servicesinternes.groupeexempleindustrie.fr', 'a long value is wrapped, never cut');
  const layout = pdfText(app, res.body, true).text;
  t.match(layout, /relais-sortant-principal\.\s/, 'the long host is wrapped onto several lines');
  t.match(layout, /\n\s+industrie\.fr\n/);

  const searched = pdfText(app, (await download(client, '/smtp-servers/export.pdf?q=%C3%A9quipe')).body);
  t.match(searched.text, 'Recherche : « équipe »');
  t.match(searched.text, '1 serveur');
  t.equal(searched.pages, 1);
});

t.test('Excel dates are the wall clock of the page’s time zone, across daylight-saving changes', async (t) => {
  const paris = (iso: string) => wallClock(new Date(iso), 'Europe/Paris').toISOString();
  t.equal(paris('2026-03-29T00:59:00Z'), '2026-03-29T01:59:00.000Z', 'winter time, the day it ends');
  t.equal(paris('2026-03-29T01:00:00Z'), '2026-03-29T03:00:00.000Z', 'summer time from 01:00 UTC');
  t.equal(paris('2026-07-14T12:00:00Z'), '2026-07-14T14:00:00.000Z');
  t.equal(paris('2026-10-25T00:59:59Z'), '2026-10-25T02:59:59.000Z', 'summer time, the day it ends');
  t.equal(paris('2026-10-25T01:00:00Z'), '2026-10-25T02:00:00.000Z', 'winter time again');
  t.equal(wallClock(new Date('2026-06-01T12:00:00Z'), 'America/New_York').toISOString(), '2026-06-01T08:00:00.000Z');
});

t.test('a long value is wrapped at spaces and punctuation, split only when a word is wider than the column', async (t) => {
  const width = (s: string) => s.length; // one unit a character
  t.same(wrapText('short', 10, width), ['short']);
  t.same(wrapText('Relations clients Montréal', 10, width), ['Relations', 'clients', 'Montréal']);
  t.same(wrapText('smtp.relais-sortant.fr', 10, width), ['smtp.', 'relais-', 'sortant.fr']);
  t.same(wrapText('abcdefghijklmnopqrstuvwxyz', 10, width), ['abcdefghij', 'klmnopqrst', 'uvwxyz']);
  t.same(wrapText('one\ntwo', 10, width), ['one', 'two']);
  t.same(wrapText('', 10, width), ['']);
  const long = 'Équipe support — Поставки, relais-sortant-principal.services-internes.groupe-exemple-industrie.fr';
  const lines = wrapText(long, 12, width);
  t.ok(lines.every((line) => line.length <= 12), 'no line is wider than the column');
  t.equal(lines.join('').replace(/\s/g, ''), long.replace(/\s/g, ''), 'no character is lost');
});

t.test('no password and no ciphertext in any export', async (t) => {
  const app = await buildTestApp(t);
  const secret = 'Export-Pl41ntext-Marker';
  await seedServers(app, 5, () => ({ password: secret }));
  const ciphertexts = (await app.stores.servers.passwordEnvelopes()).map((r) => r.envelope);
  t.equal(ciphertexts.length, 5);
  const client = await adminClient(app);
  await client.post('/smtp-servers/columns', { columns: ['id', 'title', 'username', 'links'] });

  for (const query of ['', '?sep=tab']) {
    const csv = await download(client, `/smtp-servers/export.csv${query}`);
    t.notOk(csv.body.includes(secret), 'not in the CSV');
    for (const c of ciphertexts) t.notOk(csv.body.includes(c), 'no ciphertext in the CSV');
  }
  const xlsx = await download(client, '/smtp-servers/export.xlsx');
  t.notOk(xlsx.body.includes(secret), 'not in the xlsx bytes (zipped, so the cells are read too)');
  const cells = allCellTexts(await readXlsx(xlsx.body)).join('\n');
  t.match(cells, 'Serveur 001', 'the cells were read');
  t.notMatch(cells, secret, 'not in any cell');
  for (const c of ciphertexts) t.notMatch(cells, c);
  const pdf = await download(client, '/smtp-servers/export.pdf');
  t.notOk(pdf.body.includes(secret), 'not in the PDF bytes');
  t.notMatch(pdfText(app, pdf.body).text, secret, 'not in the PDF text');
});

t.test('cells a spreadsheet would run as formulas are neutralised; numbers stay numbers', async (t) => {
  const app = await buildTestApp(t);
  const titles = ['=HYPERLINK("http://evil.test","x")', '+33 1 23 45 67 89', '-2+3', '@SUM(A1:A2)'];
  await seedServers(app, titles.length, (i) => ({ title: titles[i - 1]!, senderName: i === 1 ? '=1+1' : 'Service Vente' }));
  const client = await adminClient(app);

  const rows = csvRows((await download(client, '/smtp-servers/export.csv?sort=id')).body);
  t.same(
    rows.slice(1).map((r) => r[1]),
    titles.map((title) => `'${title}`),
  );
  t.equal(rows[1]![7], "'=1+1");
  t.match(rows[1]![0], /^\d+$/, 'the ID is not prefixed');
  t.equal(rows[1]![3], '587', 'the port is not prefixed');

  const sheet = (await readXlsx((await download(client, '/smtp-servers/export.xlsx?sort=id')).body)).worksheets[0]!;
  t.same(
    [2, 3, 4, 5].map((r) => sheet.getRow(r).getCell(2).value),
    titles.map((title) => `'${title}`),
  );
  t.equal(sheet.getRow(2).getCell(2).type, ExcelJS.ValueType.String, 'stored as text, not as a formula');
  t.equal(sheet.getRow(2).getCell(4).value, 587);

  for (const start of ['=', '+', '-', '@', '\t', '\r']) t.equal(neutralizeFormula(`${start}x`), `'${start}x`, JSON.stringify(start));
  t.equal(neutralizeFormula('Vente'), 'Vente');
  t.equal(neutralizeFormula('a=b'), 'a=b');
});

t.test('CSV records follow RFC 4180: the same as csv-stringify, and line breaks always quoted', async (t) => {
  const fields = ['plain', 'with;semicolon', 'with,comma', 'with\ttab', 'with "quotes"', '', 'Поставки é'];
  for (const separator of [';', ',', '\t'] as const) {
    t.equal(csvRecord(fields, separator), stringify([fields], { delimiter: separator, record_delimiter: 'windows' }), JSON.stringify(separator));
    const breaks = [...fields, 'line\nbreak', 'cr\rreturn', 'crlf\r\nend'];
    const record = csvRecord(breaks, separator);
    t.match(record, '"line\nbreak"', 'a bare LF is quoted too (csv-stringify leaves it bare with CRLF records; Excel would split the row)');
    t.same(parse(record, { delimiter: separator }), [breaks], 'parsed back to the same fields');
  }
});

t.test('Excel: the writer sees how far the zip is behind on the sheet, and waits for it', async (t) => {
  // exceljs pipes the sheet into a readable-stream PassThrough, without writableLength or writableNeedDrain: the brake
  // once looked for those, found nothing, and never waited (the sheet piled up in memory whenever zlib fell behind).
  const out = new PassThrough();
  const unzipped: Buffer[] = [];
  out.on('data', (chunk: Buffer) => unzipped.push(chunk));
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet('Serveurs');
  sheet.addRow(['ID', 'Titre']).commit();
  for (let i = 1; i <= 2000; i++) sheet.addRow([i, `Serveur ${i} `.repeat(20)]).commit();
  const backlog = sheetBacklog(sheet);
  t.ok(backlog, 'the pipe into the zip is found');
  t.ok(backlog!.bytes() > 0, `its backlog is measured (${backlog!.bytes()} bytes waiting)`);
  await nextDrain(backlog!.stream, new AbortController().signal);
  t.equal(backlog!.bytes(), 0, "'drain' comes once the zip has taken the backlog");
  sheet.commit();
  await workbook.commit();
  const rows: unknown[] = [];
  (await readXlsx(Buffer.concat(unzipped))).getWorksheet('Serveurs')!.eachRow((row) => rows.push(row.getCell(1).value));
  t.equal(rows.length, 2001, 'the workbook is complete');

  const stalled = new PassThrough({ highWaterMark: 1 });
  stalled.write('x');
  const controller = new AbortController();
  const waiting = nextDrain(stalled, controller.signal);
  controller.abort();
  await t.rejects(waiting, ExportAborted, 'a client that leaves stops the wait');
});

t.test('an empty list exports its header only', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  t.same(csvRows((await download(client, '/smtp-servers/export.csv')).body), [frenchHeader]);
  const sheet = (await readXlsx((await download(client, '/smtp-servers/export.xlsx')).body)).worksheets[0]!;
  t.equal(sheet.rowCount, 1);
  const pdf = pdfText(app, (await download(client, '/smtp-servers/export.pdf?q=zzz')).body);
  t.match(pdf.text, 'Aucun serveur ne correspond à « zzz »');
  t.match(pdf.text, 'page 1 / 1');
});

t.test('each export is recorded in the audit trail with its format, row count and search', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3, (i) => ({ title: i === 2 ? 'Achats Lyon' : `Paris ${i}` }));
  const client = await adminClient(app);
  await download(client, '/smtp-servers/export.csv');
  await download(client, '/smtp-servers/export.xlsx?q=achats');
  await download(client, '/smtp-servers/export.pdf?q=paris');
  const rows = await exportAudit(app, 3);
  t.same(
    rows.map((r) => r.summary),
    ['CSV, 3 lignes, toute la liste', 'XLSX, 1 ligne, recherche « achats »', 'PDF, 2 lignes, recherche « paris »'],
  );
  t.ok(rows.every((r) => r.targetType === 'smtp_server'));
  t.ok(rows.every((r) => r.actor === 'admin1@relais.test'), 'recorded under the user who exported');
  const auditPage = await client.get('/audit?action=server.export');
  t.match(text(auditPage.body), 'Export des serveurs', 'named in the audit page');
  t.match(text(auditPage.body), 'XLSX, 1 ligne, recherche « achats »');
});

t.test('a viewer can export; without signing in, no export', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 2);
  const viewer = await viewerClient(app);
  for (const format of ['csv', 'xlsx', 'pdf']) {
    const res = await download(viewer, `/smtp-servers/export.${format}?q=serveur`);
    t.equal(res.statusCode, 200, `a viewer gets the ${format}`);
  }
  const page = await viewer.get('/smtp-servers');
  t.match(page.body, 'href="/smtp-servers/export.xlsx"', 'and sees the export links');

  const anonymous = new Client(app);
  for (const format of ['csv', 'xlsx', 'pdf']) {
    const res = await download(anonymous, `/smtp-servers/export.${format}?q=serveur`);
    t.equal(res.statusCode, 303, `no ${format} without signing in`);
    t.equal(res.headers.location, `/login?next=${encodeURIComponent(`/smtp-servers/export.${format}?q=serveur`)}`, 'sent to sign in, and back');
    t.notOk(res.body.includes('Serveur 001'), 'no data in the answer');
  }
  const audit = await exportAudit(app, 3);
  t.equal(audit.length, 3, 'only the viewer’s three exports were recorded');
});

t.test('the export links sit above the table and carry the search and sort, without JavaScript', async (t) => {
  const app = await buildTestApp(t);
  const client = await adminClient(app);
  const empty = await client.get('/smtp-servers');
  t.notMatch(empty.body, '/smtp-servers/export.', 'nothing to export from an empty list');

  await seedServers(app, 3, (i) => ({ title: `Vente ${i}` }));
  const page = await client.get('/smtp-servers?q=vente&sort=port&dir=desc&per=50');
  const links = [...page.body.matchAll(/<a [^>]*href="(\/smtp-servers\/export\.[^"]+)"[^>]*>([^<]+)<\/a>/g)];
  t.same(
    links.map((m) => [m[1]!.replace(/&amp;/g, '&'), m[2]]),
    [
      ['/smtp-servers/export.xlsx?q=vente&sort=port&dir=desc&per=50', 'Excel'],
      ['/smtp-servers/export.csv?q=vente&sort=port&dir=desc&per=50', 'CSV'],
      ['/smtp-servers/export.pdf?q=vente&sort=port&dir=desc&per=50', 'PDF'],
    ],
  );
  for (const m of links) {
    t.match(m[0], ' download', 'a download link');
    t.notMatch(m[0], 'hx-', 'a plain link, not an htmx request');
  }
  t.ok(page.body.indexOf('/smtp-servers/export.xlsx') < page.body.indexOf('<table'), 'above the table');

  const fragment = await client.get('/smtp-servers?q=vente&sort=title&dir=desc', { 'hx-request': 'true', 'hx-target': 'servers-table' });
  t.match(fragment.body, 'href="/smtp-servers/export.csv?q=vente&amp;sort=title&amp;dir=desc"', 'the fragment htmx swaps in carries the new search');
  t.match(text(fragment.body), 'Exporter Excel CSV PDF');

  const csv = await download(client, links[1]![1]!.replace(/&amp;/g, '&'));
  t.equal(csv.statusCode, 200, 'the link works');
});

t.test('the export routes are not taken for a server id', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1);
  const client = await adminClient(app);
  t.same(
    app.printRoutes({ commonPrefix: false }).includes('export.csv'),
    true,
    'registered as static routes',
  );
  for (const format of ['csv', 'xlsx', 'pdf']) {
    const res = await download(client, `/smtp-servers/export.${format}`);
    t.equal(res.statusCode, 200, format);
  }
  const other = await download(client, '/smtp-servers/export.docx');
  t.equal(other.statusCode, 404);
});

t.test('the rows come in the list’s order for every sort, and a snapshot is consistent', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 23, (i) => ({
    title: `Serveur ${['b', 'A', 'c', 'É'][i % 4]} ${i}`,
    port: String(25 + (i % 5)),
    security: ['none', 'starttls', 'tls'][i % 3],
    usage: i % 2 ? 'custom' : 'default',
    departments: i % 2 ? ['vente', 'achat'] : [],
  }));
  const repository = app.repositories.smtpServers;
  for (const sort of ['id', 'title', 'host', 'port', 'security', 'usage', 'confirmation'] as const) {
    for (const dir of ['asc', 'desc'] as const) {
      const pages = [];
      for (let page = 1; page <= 3; page++) pages.push(...(await repository.listServers({ sort, dir, page, perPage: 10 })).rows);
      const iterated = [];
      for await (const server of repository.iterateServers({ sort, dir })) iterated.push(server);
      t.same(
        iterated.map((s) => s.id),
        pages.map((s) => s.id),
        `${sort} ${dir}`,
      );
    }
  }
  const [listed] = (await repository.listServers({ sort: 'id', perPage: 1 })).rows;
  const [iterated] = await (async () => {
    for await (const s of repository.iterateServers({ sort: 'id' })) return [s];
    return [];
  })();
  t.same(iterated, {
    id: listed!.id,
    title: listed!.title,
    host: listed!.host,
    port: listed!.port,
    security: listed!.security,
    authentication: listed!.authentication,
    email: listed!.email,
    senderName: listed!.senderName,
    username: listed!.username,
    usage: listed!.usage,
    departments: [
      { code: 'achat', name: 'Achat' },
      { code: 'vente', name: 'Vente' },
    ],
    confirmationStatus: listed!.confirmationStatus,
    confirmationSentAt: null,
    confirmationExpiresAt: null,
    confirmedAt: null,
    confirmationError: null,
    lastTestAt: null,
    lastTestOk: null,
  });

  const snapshot = repository.openReadSnapshot();
  const seen: number[] = [];
  let deleted = false;
  for await (const batch of snapshot.batches({ sort: 'id' }, 5)) {
    seen.push(...batch.map((s) => s.id));
    if (!deleted) {
      await repository.deleteServer(batch[0]!.id + 10, { userId: null, name: 'test', ip: null });
      deleted = true;
    }
  }
  t.equal(seen.length, 23, 'a server deleted during the read is still in the snapshot taken before');
  await seedServers(app, 1, () => ({ title: 'Créé entre les deux passes' }));
  const again: number[] = [];
  for await (const batch of snapshot.batches({ sort: 'id' }, 5)) again.push(...batch.map((s) => s.id));
  t.same(again, seen, 'a second pass (the PDF makes two) reads the same rows, whatever was written since the first');
  snapshot.close();
  const after = repository.openReadSnapshot();
  let now = 0;
  for await (const batch of after.batches({ sort: 'id' }, 5)) now += batch.length;
  after.close();
  t.equal(now, 23, 'a snapshot opened later sees the deletion and the creation');
});

t.test('a client that hangs up stops the export', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'relais.sqlite');
  seedBenchDatabase(file, 20_000);
  const app = await buildTestApp({ testdir: () => dir, teardown: t.teardown.bind(t) }, { RELAIS_DB: file });
  const client = await viewerClient(app);
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;

  const firstBytes = await new Promise<number>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/smtp-servers/export.csv', headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.once('data', (chunk: Buffer) => {
        req.destroy();
        resolve(chunk.length);
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
  });
  t.ok(firstBytes > 0, 'the download had started');

  const summary = (await exportAudit(app, 1))[0]?.summary ?? '';
  t.match(summary, /^CSV, [\d\s\u202f]+ lignes?, toute la liste — interrompu \(client déconnecté\)$/);
  const written = Number(/^CSV, ([\d\s\u202f]+) lignes?/.exec(summary)![1]!.replace(/\D/g, ''));
  t.ok(written < 20_000, `stopped after ${written} of 20,000 rows`);
});
