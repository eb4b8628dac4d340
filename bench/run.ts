import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDashboard } from './dashboard.js';
import { benchExports } from './export.js';
import { benchSending } from './sending.js';
import { benchListings, postgresUnreachable, seedBenchPostgres } from './listing.js';
import { seedBenchDatabase } from './seed.js';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { openDatabase } from '../src/db/sqlite/client.js';
import { createSqliteStores } from '../src/db/sqlite/stores.js';
import { createSmtpServerRepository } from '../src/smtp-servers/repository.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const duration = Number(process.env.BENCH_SECONDS) || 10;
const connections = 10;
// BENCH_SKIP_SEARCH=1: the list page and its baselines only, without the 100,000-server search.
const skipSearch = process.env.BENCH_SKIP_SEARCH === '1';
const adminEmail = 'bench@relais.test';
const adminPassword = 'Load-test passphrase, 10k servers';
const searchQueries = ['vente', 'paris', 'smtp', 'élodie', 'orange.fr', 'serveur 123', 'lyon achat', 'gandi', 'production 77', 'zzz'];

function start(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; address: string }> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, script), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('message', (message) => resolve({ child, address: (message as { address: string }).address }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function cookiesOf(res: Response, jar: Map<string, string>) {
  for (const line of res.headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const index = pair.indexOf('=');
    jar.set(pair.slice(0, index), pair.slice(index + 1));
  }
}

/** The cookies a signed-in browser sends: session (when sign-in exists), CSRF secret, language. */
async function browserCookies(base: string): Promise<string> {
  const jar = new Map<string, string>([['relais_lang', 'fr']]);
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let res = await fetch(`${base}/smtp-servers`, { redirect: 'manual', headers: { cookie: header() } });
  cookiesOf(res, jar);
  if (res.status >= 300 && res.status < 400 && String(res.headers.get('location')).startsWith('/login')) {
    res = await fetch(`${base}/login`, { headers: { cookie: header() } });
    cookiesOf(res, jar);
    const token = /name="_csrf" value="([^"]+)"/.exec(await res.text())?.[1] ?? '';
    res = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: header() },
      body: new URLSearchParams({ _csrf: token, email: adminEmail, password: adminPassword }).toString(),
    });
    cookiesOf(res, jar);
    res = await fetch(`${base}/smtp-servers`, { redirect: 'manual', headers: { cookie: header() } });
    // Signing in renews the CSRF secret: keep the one this page handed out, as a browser would.
    cookiesOf(res, jar);
    if (res.status !== 200) throw new Error(`could not sign in for the benchmark (status ${res.status})`);
  }
  return header();
}

function browserHeaders(cookie: string): Record<string, string> {
  return {
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'accept-encoding': 'gzip, deflate, br',
    'accept-language': 'fr-FR,fr;q=0.9,en;q=0.8',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36',
    cookie,
  };
}

async function load(url: string, headers: Record<string, string> = {}) {
  const result = await autocannon({ url, connections, duration, headers });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx and ${result.errors} errors`);
  return result;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sequential searches, one at a time, so each latency is a search and not a queue. */
async function searchLatencies(base: string, cookie: string, rounds: number) {
  const times: number[] = [];
  const headers = { ...browserHeaders(cookie), 'hx-request': 'true', 'hx-target': 'servers-table' };
  for (let round = 0; round < rounds; round++) {
    for (const q of searchQueries) {
      const started = performance.now();
      const res = await fetch(`${base}/smtp-servers?q=${encodeURIComponent(q)}&per=50`, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`search ${q}: ${res.status}`);
      times.push(performance.now() - started);
    }
  }
  return times.sort((a, b) => a - b);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-bench-'));
try {
  console.log(`Relais benchmark — ${os.cpus().length} cores, Node ${process.version}, autocannon -c ${connections} -d ${duration}`);
  const small = path.join(work, 'list-10k.sqlite');
  const large = path.join(work, 'search-100k.sqlite');
  const started = performance.now();
  seedBenchDatabase(small, 10_000);
  if (!skipSearch) seedBenchDatabase(large, 100_000);
  console.log(`seeded ${skipSearch ? '10,000' : '10,000 and 100,000'} servers in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const relaisEnv = (file: string) => ({
    RELAIS_DB: file,
    RELAIS_SECRET: 'bench-secret',
    RELAIS_ADMIN_EMAIL: adminEmail,
    RELAIS_ADMIN_PASSWORD: adminPassword,
    // The seeded servers are made up: no scheduled connection test nor alert pass during the measures.
    RELAIS_HEALTH_CHECK_MINUTES: '0',
    RELAIS_ALERT_INTERVAL_SECONDS: '0',
    NODE_ENV: 'production',
  });

  /** The list page served by Relais on `db` (a SQLite file or a PostgreSQL URL), signed in, loaded by autocannon. */
  const loadListPage = async (db: string) => {
    const relais = await start('serve.ts', relaisEnv(db));
    try {
      const cookie = await browserCookies(relais.address);
      return await load(`${relais.address}/smtp-servers?q=serveur&per=50`, browserHeaders(cookie));
    } finally {
      await stop(relais.child);
    }
  };

  // Every request counts, searches, renders and compresses: there is no page cache.
  const list = await loadListPage(small);
  const pageBytes = Math.round(list.throughput.average / list.requests.average);

  const hello = await start('hello.ts');
  const baseline = await load(hello.address);
  const sameBytes = await load(`${hello.address}/bytes/${pageBytes}`);
  await stop(hello.child);

  const ratio = list.requests.average / baseline.requests.average;
  const rows = [
    ['bare Fastify hello-world', `${Math.round(baseline.requests.average)} req/s`, `p50 ${baseline.latency.p50} ms`],
    ['list page, search over 10,000 servers, 50 a page', `${Math.round(list.requests.average)} req/s`, `p50 ${list.latency.p50} ms`],
    ['ratio list / hello-world', `${(ratio * 100).toFixed(1)} %`, 'goal ≥ 1.5 %'],
    [
      `bare Fastify sending ${pageBytes} bytes (the list page's size, no work)`,
      `${Math.round(sameBytes.requests.average)} req/s`,
      `the list does ${((list.requests.average / sameBytes.requests.average) * 100).toFixed(1)} % of that`,
    ],
  ];

  if (!skipSearch) {
    const relaisLarge = await start('serve.ts', relaisEnv(large));
    const cookieLarge = await browserCookies(relaisLarge.address);
    await searchLatencies(relaisLarge.address, cookieLarge, 2);
    const latencies = await searchLatencies(relaisLarge.address, cookieLarge, 20);
    await stop(relaisLarge.child);

    // The search alone, in this process: the repository call the page makes, without HTTP, rendering or compression.
    const handle = openDatabase(large);
    const repository = createSmtpServerRepository(createSqliteStores(handle), new SecretBox(keyFromSecret('bench-secret')));
    const searchOnly: number[] = [];
    for (let round = 0; round < 22; round++) {
      for (const q of searchQueries) {
        const begun = performance.now();
        await repository.listServers({ q, perPage: 50 });
        if (round >= 2) searchOnly.push(performance.now() - begun);
      }
    }
    handle.close();
    searchOnly.sort((a, b) => a - b);
    rows.push(
      [
        `search page over 100,000 servers, HTTP (${latencies.length} searches, ${searchQueries.length} queries)`,
        `p95 ${percentile(latencies, 95).toFixed(1)} ms`,
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; goal p95 ≤ 15 ms`,
      ],
      [
        '  of which the database search (repository call, same queries)',
        `p95 ${percentile(searchOnly, 95).toFixed(1)} ms`,
        `p50 ${percentile(searchOnly, 50).toFixed(1)} ms, max ${searchOnly.at(-1)!.toFixed(1)} ms`,
      ],
    );
  }
  for (const [what, value, note] of rows) console.log(`${what!.padEnd(72)} ${value!.padStart(14)}   ${note}`);

  // BENCH_SKIP_DASHBOARD=1: without the dashboard over 1,000,000 messages (BENCH_DASHBOARD_MESSAGES).
  if (process.env.BENCH_SKIP_DASHBOARD !== '1') {
    console.log('\nDashboard: its page over the logged messages and the list page, loaded in turn (same run):');
    const dashboard = await benchDashboard({ start, stop, browserCookies, browserHeaders, load, relaisEnv }, small);
    for (const [what, value, note] of dashboard) console.log(`${what!.padEnd(72)} ${value!.padStart(14)}   ${note}`);
  }

  // The same servers on PostgreSQL, and the list's queries on both stores side by side (in this process).
  const unreachable = await postgresUnreachable();
  if (unreachable) {
    console.log(`\nPostgreSQL part skipped: ${unreachable}`);
  } else {
    const seededAt = performance.now();
    const smallPg = await seedBenchPostgres(10_000);
    const largePg = skipSearch ? undefined : await seedBenchPostgres(100_000);
    console.log(`\nThe list page and its queries on both stores (PostgreSQL seeded in ${((performance.now() - seededAt) / 1000).toFixed(1)} s):`);
    try {
      // The same page as above, served by Relais on the PostgreSQL copy of the same 10,000 servers, measured in turn
      // with SQLite's page again (SQLite, PostgreSQL, SQLite, PostgreSQL): the ratio compares pages loaded minutes apart
      // no more, when the machine is not the same (the parts before leave caches, checkpoints and other sessions' load).
      const inTurn = { sqlite: [] as number[], postgres: [] as number[] };
      for (let round = 0; round < 2; round++) {
        inTurn.sqlite.push((await loadListPage(small)).requests.average);
        inTurn.postgres.push((await loadListPage(smallPg.url)).requests.average);
      }
      const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const pgRatio = average(inTurn.postgres) / average(inTurn.sqlite);
      const each = (values: number[]) => values.map((v) => Math.round(v)).join(', ');
      console.log(
        `${'list page over HTTP on PostgreSQL, same search and servers'.padEnd(72)} ${`${Math.round(average(inTurn.postgres))} req/s`.padStart(14)}   ${(pgRatio * 100).toFixed(0)} % of SQLite's ${Math.round(average(inTurn.sqlite))} req/s measured in turn with it, goal ≥ 50 % (PostgreSQL ${each(inTurn.postgres)}; SQLite ${each(inTurn.sqlite)})`,
      );
      const stores = await benchListings(searchQueries, { file: small, url: smallPg.url }, largePg && { file: large, url: largePg.url });
      for (const [what, value, note] of stores) console.log(`${what!.padEnd(72)} ${value!.padStart(14)}   ${note}`);
    } finally {
      await smallPg.drop();
      await largePg?.drop();
    }
  }
  if (process.env.BENCH_SKIP_EXPORTS !== '1') {
    console.log('\nExports (each in a child process of its own):');
    await benchExports();
  }
  if (process.env.BENCH_SKIP_SENDING !== '1') {
    console.log('\nSending: the outbox beside raw nodemailer, to the same local sink (BENCH_MESSAGES, default 10,000):');
    for (const [what, value, note] of await benchSending()) console.log(`${what!.padEnd(72)} ${value!.padStart(24)}   ${note}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
