// Runs tap and ends with the "N passed, N failed" line that tap itself does not print without a terminal.
// Without arguments (npm test): the suite on SQLite, again on PostgreSQL (RELAIS_TEST_STORE=postgres), then the browser
// suite once; the closing line sums the three runs. With arguments: those files, on RELAIS_TEST_STORE's store.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import pg from 'pg';

/** Files that test SQLite itself: not run again on PostgreSQL. A file with only some such tests marks them with sqliteOnly() (test/helper.ts). */
const sqliteOnlyFiles = {
  'test/store-failures.test.ts': 'fills the SQLite file, makes it read-only, deletes its folder (SQLite pragmas and files)',
  'test/sqlite-checkpoints.test.ts': 'the SQLite connection and its checkpoint thread',
};

/** Files whose tests pick their stores themselves (forEachStore, onPostgres in test/stores.ts) already run on both. */
const picksItsStores = (file) => /\b(forEachStore|onPostgres)\(/.test(fs.readFileSync(file, 'utf8'));

/** The failed tests of every run, by their path of subtest names, repeated at the end where a CI log's tail shows them. */
const failures = [];

/** Follows tap's TAP stream line by line: the subtest names open at each depth, and each failed leaf with the first lines of its diagnosis. */
function failureCollector(label) {
  const names = [];
  let pending = '';
  let current = null;
  return (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const depth = Math.floor((line.length - line.trimStart().length) / 4);
      const subtest = line.match(/^\s*# Subtest: (.*)$/);
      if (subtest) {
        names.length = depth;
        names[depth] = subtest[1];
        current = null;
        continue;
      }
      const failed = line.match(/^\s*not ok \d+ - (.*?)(?: # time=.*)?$/);
      if (failed) {
        const path = [...names.slice(0, depth), failed[1]].join(' › ');
        // tap reports a failed subtest after its failed assertions: only the deepest one is worth a line.
        current = failures.some((f) => f.label === label && f.path.startsWith(`${path} › `)) ? null : { label, path, detail: [] };
        if (current) failures.push(current);
        continue;
      }
      const worth = /^\s+(message|found|wanted|compare|code|errno|syscall|fileName|lineNumber|[-+](?![-+]{2}|-*\^?$))/.test(line);
      if (current && current.detail.length < 8 && worth) current.detail.push(line.trim());
      if (current && /^\s*\.\.\.$/.test(line)) current = null;
    }
  };
}

function run(label, args, env = {}) {
  const started = Date.now();
  const collect = failureCollector(label || 'tap');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      collect(chunk.toString());
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const match = [...tail.matchAll(/#\s*\{\s*total:\s*(\d+),\s*pass:\s*(\d+)(?:,\s*fail:\s*(\d+))?(?:,\s*todo:\s*(\d+))?(?:,\s*skip:\s*(\d+))?/g)].pop();
      let counts = { passed: 0, failed: code === 0 ? 0 : 1, skipped: 0 };
      if (match) {
        const [, total, pass, fail = '0', todo = '0', skip = '0'] = match;
        const failed = Number(fail) || (code !== 0 ? Number(total) - Number(pass) - Number(todo) - Number(skip) : 0);
        counts = { passed: Number(pass), failed, skipped: Number(skip) };
      }
      const seconds = Math.round((Date.now() - started) / 1000);
      if (label) console.log(`# ${label}: ${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''} in ${seconds} s`);
      resolve({ ...counts, code: code ?? 1 });
    });
  });
}

function summary(results) {
  for (const failure of failures.slice(0, 30)) {
    console.log(`# FAILED (${failure.label}): ${failure.path}`);
    for (const line of failure.detail) console.log(`#     ${line}`);
  }
  if (failures.length > 30) console.log(`# … and ${failures.length - 30} more failed tests`);
  const total = results.reduce((sum, r) => ({ passed: sum.passed + r.passed, failed: sum.failed + r.failed, skipped: sum.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  process.exit(results.some((r) => r.code !== 0) || total.failed > 0 ? 1 : 0);
}

async function postgresUnavailable() {
  const url = process.env.RELAIS_TEST_PG || 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL (RELAIS_TEST_PG) is unreachable: ${err.message || err.code}`;
  } finally {
    await client.end().catch(() => {});
  }
}

const args = process.argv.slice(2);
if (args.length) {
  const result = await run('', args);
  summary([result]);
} else {
  const suite = fs.readdirSync('test').filter((name) => name.endsWith('.test.ts')).map((name) => `test/${name}`).sort();
  const results = [await run('SQLite', suite, { RELAIS_TEST_STORE: 'sqlite' })];
  const unavailable = await postgresUnavailable();
  if (unavailable && process.env.CI === 'true') {
    console.log(`# PostgreSQL run FAILED: ${unavailable} (CI=true)`);
    results.push({ passed: 0, failed: 1, skipped: 0, code: 1 });
  } else if (unavailable) {
    console.log(`# PostgreSQL run SKIPPED: ${unavailable}; set RELAIS_TEST_PG or start PostgreSQL to run the suite on it`);
  } else {
    for (const [file, reason] of Object.entries(sqliteOnlyFiles)) console.log(`# not on PostgreSQL: ${file} (${reason})`);
    const both = suite.filter(picksItsStores);
    console.log(`# not again on PostgreSQL, their tests already run on both stores: ${both.join(', ')}`);
    results.push(await run('PostgreSQL', suite.filter((file) => !(file in sqliteOnlyFiles) && !both.includes(file)), { RELAIS_TEST_STORE: 'postgres' }));
  }
  const browser = fs.readdirSync('test/browser').filter((name) => name.endsWith('.test.ts')).map((name) => `test/browser/${name}`).sort();
  results.push(await run('browser', browser));
  summary(results);
}
