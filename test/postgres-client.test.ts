import t from 'tap';
import pg from 'pg';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { getTableConfig } from 'drizzle-orm/pg-core';
import { loadConfig } from '../src/config.js';
import { tablesInCopyOrder } from '../src/db/copy.js';
import { createPool, DatabaseUnreachableError, isHealthy, migratePostgres, openPostgres, postgresMigrationsFolder, redactUrl } from '../src/db/postgres/client.js';
import { forEachStore, onPostgres } from './stores.js';

const journal = JSON.parse(fs.readFileSync(path.join(postgresMigrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };

t.test('RELAIS_DB: a postgres:// or postgresql:// URL selects PostgreSQL, anything else a SQLite file', async (t) => {
  t.same(loadConfig({ RELAIS_DB: 'postgres://relais:pw@db:5432/relais' }).database, { kind: 'postgres', url: 'postgres://relais:pw@db:5432/relais', poolSize: 20 });
  t.same(loadConfig({ RELAIS_DB: 'postgresql://db/relais' }).database, { kind: 'postgres', url: 'postgresql://db/relais', poolSize: 20 });
  t.same(loadConfig({ RELAIS_DB: 'postgresql://db/relais', RELAIS_DB_POOL_SIZE: '40' }).database, { kind: 'postgres', url: 'postgresql://db/relais', poolSize: 40 });
  t.throws(() => loadConfig({ RELAIS_DB: 'postgresql://db/relais', RELAIS_DB_POOL_SIZE: '0' }), /RELAIS_DB_POOL_SIZE/);
  t.same(loadConfig({ RELAIS_DB: 'data/x.sqlite' }).database, { kind: 'sqlite', file: path.resolve('data/x.sqlite') });
  t.equal(loadConfig({ RELAIS_DB: 'data/x.sqlite' }).dbFile, path.resolve('data/x.sqlite'));
  t.same(loadConfig({}).database, { kind: 'sqlite', file: path.resolve('./data/relais.sqlite') });
});

async function startFails(env: Record<string, string>): Promise<{ code: number; stderr: string; msg: string }> {
  const err = (await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', ...env },
  }).catch((e: { code: number; stdout: string; stderr: string }) => e)) as { code: number; stderr: string };
  return { code: err.code, stderr: err.stderr, msg: (JSON.parse(err.stderr.trim()) as { msg: string }).msg };
}

t.test('a PostgreSQL RELAIS_DB without RELAIS_SECRET stops the start with one line, without the password', async (t) => {
  const { code, stderr, msg } = await startFails({ RELAIS_DB: 'postgres://relais:hunter2@127.0.0.1:5432/relais', RELAIS_SECRET: '' });
  t.equal(code, 1);
  t.equal(msg, 'Relais cannot start: RELAIS_SECRET must be set when RELAIS_DB is PostgreSQL: every instance encrypts SMTP passwords with this same secret');
  t.notMatch(stderr, 'hunter2');
});

t.test('a PostgreSQL that cannot be reached at start stops the process with one line, without the password', async (t) => {
  const { code, stderr, msg } = await startFails({ RELAIS_DB: 'postgres://relais:hunter2@127.0.0.1:1/relais', RELAIS_SECRET: 'x'.repeat(40) });
  t.equal(code, 1);
  t.match(msg, /^Relais cannot start: PostgreSQL at postgres:\/\/relais:\*\*\*@127\.0\.0\.1:1\/relais cannot be reached: .*ECONNREFUSED/);
  t.equal(stderr.trim().split('\n').length, 1, 'one line');
  t.notMatch(stderr, 'hunter2');
});

t.test('redactUrl masks the password and nothing else', async (t) => {
  t.equal(redactUrl('postgres://relais:s3cr%C3%A9t@db.example:5432/relais'), 'postgres://relais:***@db.example:5432/relais');
  t.equal(redactUrl('postgresql://relais@db/relais?sslmode=require'), 'postgresql://relais@db/relais?sslmode=require');
  t.equal(redactUrl('postgres://db/relais?user=relais&password=hunter2'), 'postgres://db/relais?user=relais&password=***');
  t.notMatch(redactUrl('postgres://relais:hunter2@[::1:5432/relais'), /hunter2/, 'an unparseable URL does not leak');
});

t.test('an unreachable database stops the start with one line, without the password', async (t) => {
  const url = 'postgres://relais:hunter2@127.0.0.1:1/relais';
  const err = await openPostgres(url).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof DatabaseUnreachableError, 'a DatabaseUnreachableError');
  const message = (err as Error).message;
  t.match(message, /^PostgreSQL at postgres:\/\/relais:\*\*\*@127\.0\.0\.1:1\/relais cannot be reached: .*ECONNREFUSED/);
  t.notMatch(message, /hunter2/);
  t.notMatch(message, /\n/, 'one line');
  const pool = createPool(url, { connectionTimeoutMillis: 500 });
  t.equal(await isHealthy(pool), false, 'the health probe says unreachable');
  await pool.end();
});

onPostgres(t, 'the migrations apply on an empty database, and again without effect', async (t, url) => {
  const handle = await openPostgres(url);
  t.teardown(() => handle.close());
  const tables = await handle.pool.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
  t.same(
    tables.rows.map((r) => r.table_name),
    [...tablesInCopyOrder().map((table) => getTableConfig(table).name), 'smtp_servers_search'].sort(),
    'every table of the schema, and the search copy the triggers keep',
  );
  const departments = await handle.pool.query(`SELECT id, code FROM departments ORDER BY id`);
  t.same(departments.rows, [{ id: 1, code: 'achat' }, { id: 2, code: 'vente' }, { id: 3, code: 'production' }]);
  const unaccented = await handle.pool.query(`SELECT lower(relais_unaccent('Équipe Hôtel')) AS v`);
  t.equal(unaccented.rows[0].v, 'equipe hotel');
  const indexes = await handle.pool.query(`SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm%' ORDER BY 1`);
  t.same(indexes.rows.map((r) => r.indexname), ['audit_log_search_trgm_idx', 'smtp_servers_search_text_trgm_idx', 'smtp_servers_search_trgm_idx']);
  await migratePostgres(handle.pool);
  const applied = await handle.pool.query(`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  t.equal(applied.rows[0].n, journal.entries.length, 'each migration recorded once');
  t.equal(await handle.health(), 'ok', 'healthy: answers and accepts a write');
  await handle.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  await handle.pool.query(`SELECT pg_terminate_backend(pg_backend_pid())`).catch(() => {});
  let recovered = false;
  for (let i = 0; i < 20 && !recovered; i++) {
    recovered = (await handle.health()) === 'ok';
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(recovered, 'connections lost while running are replaced by the pool: healthy again without a restart');
  const inserted = await handle.pool.query(`INSERT INTO departments (code, name) VALUES ('compta', 'Compta') RETURNING id`);
  t.equal(inserted.rows[0].id, 4, 'ids continue after the seeded departments');
});

onPostgres(t, 'two instances migrating the same empty database at once apply each migration once', async (t, url) => {
  const pools = [createPool(url), createPool(url), createPool(url)];
  t.teardown(() => Promise.all(pools.map((pool) => pool.end())));
  await Promise.all(pools.map((pool) => migratePostgres(pool)));
  const applied = await pools[0]!.query(`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  t.equal(applied.rows[0].n, journal.entries.length);
  const departments = await pools[0]!.query(`SELECT count(*)::int AS n FROM departments`);
  t.equal(departments.rows[0].n, 3, 'the seed ran once');
});

forEachStore(t, 'forEachStore gives each subtest a store of its own', async (t, store) => {
  if (store.kind === 'sqlite') {
    t.match(store.relaisDb, /relais\.sqlite$/);
    t.equal(loadConfig({ RELAIS_DB: store.relaisDb }).database.kind, 'sqlite');
    return;
  }
  t.equal(loadConfig({ RELAIS_DB: store.relaisDb }).database.kind, 'postgres');
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  t.teardown(() => client.end());
  const before = await client.query(`SELECT count(*)::int AS n FROM departments`);
  t.equal(before.rows[0].n, 3, 'migrated, with its seed');
  await client.query(`INSERT INTO users (email, display_name, password_hash) VALUES ('a@relais.test', 'A', 'x')`);
});

forEachStore(t, 'forEachStore empties the database between subtests', async (t, store) => {
  if (store.kind === 'sqlite') return t.notOk(fs.existsSync(store.file), 'a new file');
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  t.teardown(() => client.end());
  t.same((await client.query(`SELECT email FROM users`)).rows, [], 'the previous subtest left nothing');
  t.equal((await client.query(`SELECT count(*)::int AS n FROM departments`)).rows[0].n, 3, 'seed put back');
  const inserted = await client.query(`INSERT INTO users (email, display_name, password_hash) VALUES ('b@relais.test', 'B', 'x') RETURNING id`);
  t.equal(inserted.rows[0].id, 1, 'ids start over');
});
