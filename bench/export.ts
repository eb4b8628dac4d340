// Export benchmark: CSV and Excel over 100,000 servers, PDF over 10,000, each in its own child process so the peak
// RSS is that export's alone, beside `sqlite3 -csv` dumping the same rows in the same order as the baseline.
// A child runs what the route runs (a read snapshot, the writer, French, default columns) into a file; the writer's
// module is loaded before the clock starts (a server loads it once). Median of BENCH_RUNS (3) runs.
//   node --import tsx bench/export.ts            (alone; BENCH_ROWS, BENCH_PDF_ROWS, BENCH_RUNS to change the sizes)
//   benchExports({ rows, pdfRows })              (from bench/run.ts)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openDatabase } from '../src/db/sqlite/client.js';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { translator } from '../src/i18n/index.js';
import { defaultColumns } from '../src/smtp-servers/columns.js';
import { csvSeparatorFrom, displayTimeZone, exportColumns, loadWriter, runExport, type ExportFormat } from '../src/smtp-servers/export/index.js';
import { createSqliteStores } from '../src/db/sqlite/stores.js';
import { createSmtpServerRepository } from '../src/smtp-servers/repository.js';

const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');
const cacheDir = path.join(root, 'bench', '.cache');
const benchSecret = 'bench-secret';

/** The lead's seeded servers (bench/seed.ts), with a confirmation date on the confirmed ones: Excel writes those as dates. */
async function createBenchDatabase(file: string, rows: number): Promise<string> {
  // Imported here, not at the top: the seed brings pg and the copy helpers (9 MB), which an export child never runs.
  const { seedBenchDatabase } = await import('./seed.js');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  seedBenchDatabase(file, rows, benchSecret);
  const handle = openDatabase(file);
  handle.sqlite.prepare("UPDATE smtp_servers SET confirmed_at = ? + id * 60000 WHERE confirmation_status = 'confirmed'").run(Date.UTC(2025, 0, 1));
  handle.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  handle.close();
  return file;
}

export interface ExportMeasure {
  name: string;
  rows: number;
  ms: number;
  /** Peak resident set size of the process, in MB (null when it cannot be measured). */
  peakRssMb: number | null;
  /** RSS of the child once everything is loaded, before the export starts. */
  idleRssMb: number | null;
  bytes: number;
  goal: string;
  ok: boolean | null;
}

interface ChildResult {
  ms: number;
  rows: number;
  bytes: number;
  idleRssKb: number;
  peakRssKb: number;
}

/** Child side: one export of the database to a file, the way the route runs it (French, default columns). */
async function runChild(format: ExportFormat, dbFile: string, outFile: string) {
  const handle = openDatabase(dbFile);
  const repository = createSmtpServerRepository(createSqliteStores(handle), new SecretBox(keyFromSecret(benchSecret)));
  const t = translator('fr');
  const context = { locale: 'fr' as const, t, timeZone: displayTimeZone() };
  const snapshot = repository.openReadSnapshot();
  // The same room to write ahead as the route's response stream.
  const out = fs.createWriteStream(outFile, { highWaterMark: 256 * 1024 });
  // A server loads exceljs or pdfkit once, at its first export of that kind (about 0.7 s and 0.3 s): not timed here.
  await loadWriter(format);
  const idleRssKb = Math.round(process.memoryUsage().rss / 1024);
  const start = performance.now();
  const result = await runExport(
    format,
    {
      batches: () => snapshot.batches({ sort: 'title', dir: 'asc' }),
      columns: exportColumns(defaultColumns, context),
      context,
      meta: { title: t('servers.title'), sheetName: t('nav.servers'), exportedAt: new Date(), q: '', sort: 'title', dir: 'asc' },
      out,
      signal: new AbortController().signal,
      progress: { rows: 0 },
    },
    { separator: csvSeparatorFrom(undefined, 'fr') },
  );
  await finished(out);
  snapshot.close();
  const ms = performance.now() - start;
  handle.close();
  const report: ChildResult = { ms, rows: result.rows, bytes: fs.statSync(outFile).size, idleRssKb, peakRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(JSON.stringify(report));
}

function runInChild(format: ExportFormat, dbFile: string, outFile: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', thisFile, '--child', format, dbFile, outFile], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${format} export child exited with ${code}`));
      resolve(JSON.parse(output) as ChildResult);
    });
  });
}

/** The same rows, columns and order as the CSV export, as close as SQL gets to the page's words. */
const baselineQuery = `
SELECT s.id AS "ID", s.title AS "Titre", s.host AS "Hôte", s.port AS "Port",
  CASE s.authentication WHEN 'password' THEN 'Mot de passe' ELSE 'Aucune' END AS "Authentification",
  CASE s.security WHEN 'starttls' THEN 'STARTTLS' WHEN 'tls' THEN 'SSL/TLS' ELSE 'Aucune' END AS "Sécurité",
  s.email AS "Mail", s.sender_name AS "Nom d'envoi", s.username AS "Utilisateur",
  CASE s.usage WHEN 'default' THEN 'Par défaut' ELSE (
    SELECT group_concat(d.name, ', ') FROM smtp_server_departments sd JOIN departments d ON d.id = sd.department_id
    WHERE sd.server_id = s.id ORDER BY d.position) END AS "Usage",
  CASE s.confirmation_status WHEN 'confirmed' THEN 'Confirmé le ' || strftime('%d/%m/%Y %H:%M', s.confirmed_at / 1000, 'unixepoch')
    ELSE 'Non confirmé' END AS "Confirmation"
FROM smtp_servers s ORDER BY s.title_sort, s.id;`;

function hasGnuTime(): boolean {
  return fs.existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;
}

const runs = Number(process.env.BENCH_RUNS) || 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Each export `runs` times, each in a fresh child: the median wall time, the highest peak RSS. */
async function measureChild(format: ExportFormat, dbFile: string, outFile: string): Promise<ChildResult> {
  const results: ChildResult[] = [];
  for (let run = 0; run < runs; run++) results.push(await runInChild(format, dbFile, outFile));
  return {
    ms: median(results.map((r) => r.ms)),
    rows: results[0]!.rows,
    bytes: results[0]!.bytes,
    idleRssKb: Math.max(...results.map((r) => r.idleRssKb)),
    peakRssKb: Math.max(...results.map((r) => r.peakRssKb)),
  };
}

/** sqlite3 -csv into a file: median wall time of the runs; peak RSS only when GNU time is installed. */
function sqliteBaseline(dbFile: string, outFile: string): { ms: number; peakRssMb: number | null; bytes: number } {
  const gnuTime = hasGnuTime();
  const times: number[] = [];
  let peakRssMb: number | null = null;
  for (let run = 0; run < runs; run++) {
    const fd = fs.openSync(outFile, 'w');
    const start = performance.now();
    const args = ['-csv', '-header', dbFile, baselineQuery];
    const result = gnuTime
      ? spawnSync('/usr/bin/time', ['-f', '%M', 'sqlite3', ...args], { stdio: ['ignore', fd, 'pipe'] })
      : spawnSync('sqlite3', args, { stdio: ['ignore', fd, 'inherit'] });
    const ms = performance.now() - start;
    fs.closeSync(fd);
    if (result.status !== 0) throw new Error(`sqlite3 failed: ${result.stderr?.toString() ?? ''}`);
    times.push(ms);
    if (gnuTime) peakRssMb = Number(result.stderr.toString().trim().split('\n').pop()) / 1024;
  }
  return { ms: median(times), peakRssMb, bytes: fs.statSync(outFile).size };
}

const mb = (kb: number) => kb / 1024;

function printTable(measures: ExportMeasure[], ratio: number) {
  const lines = [
    '| export | rows | wall time | peak RSS | RSS before export | output | goal | met |',
    '|---|---:|---:|---:|---:|---:|---|---|',
    ...measures.map(
      (m) =>
        `| ${m.name} | ${m.rows.toLocaleString('en-US')} | ${(m.ms / 1000).toFixed(2)} s | ${m.peakRssMb === null ? 'n/a' : `${m.peakRssMb.toFixed(0)} MB`} | ${
          m.idleRssMb === null ? '—' : `${m.idleRssMb.toFixed(0)} MB`
        } | ${(m.bytes / 1024 / 1024).toFixed(1)} MB | ${m.goal} | ${m.ok === null ? '—' : m.ok ? 'yes' : 'NO'} |`,
    ),
  ];
  console.log(lines.join('\n'));
  console.log(`CSV / sqlite3 -csv wall-time ratio: ${ratio.toFixed(2)}× (goal ≤ 3×); median of ${runs} runs each, load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
}

export async function benchExports(options: { rows?: number; pdfRows?: number } = {}): Promise<{ measures: ExportMeasure[]; csvRatio: number }> {
  const rows = options.rows ?? 100_000;
  const pdfRows = options.pdfRows ?? 10_000;
  fs.mkdirSync(cacheDir, { recursive: true });

  const start = performance.now();
  const bigDb = await createBenchDatabase(path.join(cacheDir, `export-${rows}.sqlite`), rows);
  const smallDb = await createBenchDatabase(path.join(cacheDir, `export-${pdfRows}.sqlite`), pdfRows);
  console.log(`built ${rows.toLocaleString('en-US')} + ${pdfRows.toLocaleString('en-US')} servers in ${((performance.now() - start) / 1000).toFixed(1)} s`);

  const baseline = sqliteBaseline(bigDb, path.join(cacheDir, 'baseline.csv'));
  const csv = await measureChild('csv', bigDb, path.join(cacheDir, 'export.csv'));
  const xlsx = await measureChild('xlsx', bigDb, path.join(cacheDir, 'export.xlsx'));
  const pdf = await measureChild('pdf', smallDb, path.join(cacheDir, 'export.pdf'));

  // Sanity: every row is in the CSV and the stored password is nowhere in it.
  const csvText = fs.readFileSync(path.join(cacheDir, 'export.csv'), 'utf8');
  const csvLines = csvText.split('\r\n').length - 2;
  if (csvLines !== rows) throw new Error(`the CSV holds ${csvLines} rows, expected ${rows}`);
  if (csvText.includes('Bench-Passw0rd!')) throw new Error('the password leaked into the CSV');
  const pdfPages = /Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [path.join(cacheDir, 'export.pdf')]).toString())?.[1] ?? '?';

  const csvRatio = csv.ms / baseline.ms;
  const measures: ExportMeasure[] = [
    { name: 'sqlite3 -csv (baseline)', rows, ms: baseline.ms, peakRssMb: baseline.peakRssMb, idleRssMb: null, bytes: baseline.bytes, goal: '—', ok: null },
    {
      name: 'CSV',
      rows: csv.rows,
      ms: csv.ms,
      peakRssMb: mb(csv.peakRssKb),
      idleRssMb: mb(csv.idleRssKb),
      bytes: csv.bytes,
      goal: '≤ 3× sqlite3, < 150 MB',
      ok: csvRatio <= 3 && mb(csv.peakRssKb) < 150,
    },
    {
      name: 'Excel',
      rows: xlsx.rows,
      ms: xlsx.ms,
      peakRssMb: mb(xlsx.peakRssKb),
      idleRssMb: mb(xlsx.idleRssKb),
      bytes: xlsx.bytes,
      goal: '< 3 s, < 300 MB',
      ok: xlsx.ms < 3000 && mb(xlsx.peakRssKb) < 300,
    },
    {
      name: `PDF (${pdfPages} pages)`,
      rows: pdf.rows,
      ms: pdf.ms,
      peakRssMb: mb(pdf.peakRssKb),
      idleRssMb: mb(pdf.idleRssKb),
      bytes: pdf.bytes,
      goal: '< 2 s, < 200 MB',
      ok: pdf.ms < 2000 && mb(pdf.peakRssKb) < 200,
    },
  ];
  printTable(measures, csvRatio);
  return { measures, csvRatio };
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  const [flag, format, dbFile, outFile] = process.argv.slice(2);
  if (flag === '--child') {
    await runChild(format as ExportFormat, dbFile!, outFile!);
  } else {
    const argRows = Number(process.env.BENCH_ROWS) || undefined;
    const argPdfRows = Number(process.env.BENCH_PDF_ROWS) || undefined;
    await benchExports({ rows: argRows, pdfRows: argPdfRows });
  }
}
