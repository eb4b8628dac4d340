import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { eq, getTableColumns, is } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { copySqliteToPostgres, CopyRefusedError } from '../src/db/copy.js';
import * as pgSchema from '../src/db/postgres/schema.js';
import * as sqliteSchema from '../src/db/sqlite/schema.js';
import { adminClient, buildTestApp, validServer } from './helper.js';
import { pngOf } from './signature-images.js';
import { serverThrough, startSmtpPeer } from './smtp-peer.js';
import { createTestDatabase, onPostgres } from './stores.js';

const run = promisify(execFile);
/** `npm run db:copy -- --from … --to …`, as an administrator runs it. */
const dbCopy = (from: string, to: string) => run(process.execPath, ['--import', 'tsx', 'scripts/db-copy.ts', '--from', from, '--to', to]);
type Row = Record<string, unknown>;

const sqliteTables = (Object.values(sqliteSchema) as unknown[]).filter((v): v is SQLiteTable => is(v, SQLiteTable));
const pgTables = (Object.values(pgSchema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));
const primaryOrder = (rows: Row[]) => [...rows].sort((a, b) => JSON.stringify(Object.values(a)).localeCompare(JSON.stringify(Object.values(b))));

/** The SQLite column default stores REAL milliseconds that drizzle truncates and the copy rounds: within 1 ms is the same instant. */
function withSourceInstants(copied: Row, source: Row | undefined): Row {
  const out: Row = { ...copied };
  for (const [key, value] of Object.entries(copied)) {
    const before = source?.[key];
    if (value instanceof Date && before instanceof Date && Math.abs(value.getTime() - before.getTime()) < 1) out[key] = before;
  }
  return out;
}

async function count(pool: pg.Pool, table: string): Promise<number> {
  return (await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n;
}

onPostgres(t, 'db:copy moves an installation made by the app into PostgreSQL, row for row, then refuses a second copy', async (t, url) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const tested = await serverThrough(admin, peer);
  const confirmed = await serverThrough(admin, peer, { title: 'Achat Été', departments: 'achat' });
  const gone = await serverThrough(admin, peer, { title: 'Éphémère' });
  t.equal((await admin.post(`/smtp-servers/${gone}/delete`)).statusCode, 303, 'a deleted server: its id is not to be given again');
  t.equal((await admin.post(`/smtp-servers/${tested}/test`)).statusCode, 303, 'a connection test result');
  t.equal((await admin.post(`/smtp-servers/${confirmed}/confirmation`, { back: '/smtp-servers' })).statusCode, 303, 'a confirmation token');
  const logo = pngOf(40, 20);
  await app.stores.logos.put({ serverId: tested, contentType: 'image/png', bytes: logo, width: 40, height: 20, size: logo.length, updatedAt: new Date() });

  const source: Record<string, Row[]> = {};
  for (const table of sqliteTables) source[sqliteConfig(table).name] = app.database.db.select().from(table).all() as Row[];
  t.ok(source.audit_log!.length >= 4 && source.sessions!.length >= 1 && source.confirmation_tokens!.length === 1 && source.login_attempts!.length >= 1);

  // The app keeps the file open: the copy reads a consistent snapshot beside it.
  const copied = await copySqliteToPostgres({ from: app.database.file, to: url });
  t.same(
    Object.fromEntries(copied.map((c) => [c.table, c.rows])),
    Object.fromEntries(Object.entries(source).map(([table, rows]) => [table, rows.length])),
    'says how many rows of each table it copied',
  );
  t.equal(copied.find((c) => c.table === 'smtp_servers')!.rows, 2);

  const pool = new pg.Pool({ connectionString: url });
  t.teardown(() => pool.end());
  const db = drizzle(pool, { schema: pgSchema });
  for (const table of pgTables) {
    const name = pgConfig(table).name;
    const rows = (await db.select().from(table)) as Row[];
    const keyColumns = Object.entries(getTableColumns(table))
      .filter(([, c]) => c.primary || pgConfig(table).primaryKeys.some((pk) => pk.columns.includes(c)))
      .map(([key]) => key);
    const byKey = (row: Row) => JSON.stringify(keyColumns.map((key) => row[key]));
    const sourceRows = new Map(source[name]!.map((row) => [byKey(row), row]));
    t.same(primaryOrder(rows.map((row) => withSourceInstants(row, sourceRows.get(byKey(row))))), primaryOrder(source[name]!), `${name}: the same rows`);
  }

  const [server] = await db.select().from(pgSchema.smtpServers).where(eq(pgSchema.smtpServers.id, tested));
  t.match(server!.passwordCiphertext, /^v1:/, 'the password stays encrypted, as it was');
  t.equal(server!.passwordCiphertext, source.smtp_servers!.find((row) => row.id === tested)!.passwordCiphertext);
  t.equal(server!.lastTestOk, true, 'booleans are booleans');
  t.equal(typeof server!.updatedAt.getTime(), 'number');
  const [copiedLogo] = await db.select().from(pgSchema.serverLogos).where(eq(pgSchema.serverLogos.serverId, tested));
  t.ok(copiedLogo?.bytes.equals(logo), 'a logo’s bytes are copied as they are');

  const next = await pool.query(
    `INSERT INTO smtp_servers (title, title_key, host, port, security, authentication, email, sender_name)
     VALUES ('n', 'n', 'h', 25, 'none', 'none', 'e@x.fr', 's') RETURNING id`,
  );
  t.equal(next.rows[0].id, gone + 1, 'identity sequences continue after every id SQLite gave, the deleted one included');
  await pool.query(`DELETE FROM smtp_servers WHERE id = $1`, [next.rows[0].id]);

  const again = await copySqliteToPostgres({ from: app.database.file, to: url }).catch((err: unknown) => err);
  t.ok(again instanceof CopyRefusedError, 'a target holding data is refused');
  t.match((again as Error).message, /already holds data \((?=[^)]*\busers\b)(?=[^)]*\baudit_log\b)(?=[^)]*\bsmtp_servers\b)[^)]*\); copy only into an empty database$/);
  t.equal(await count(pool, 'smtp_servers'), 2, 'and left as it was');
  t.equal(await count(pool, 'audit_log'), source.audit_log!.length);

  const cli = await dbCopy(app.database.file, url).catch((err: { code: number; stderr: string }) => err);
  t.equal((cli as { code: number }).code, 1, 'npm run db:copy exits 1 on a refusal');
  t.match((cli as { stderr: string }).stderr, /^db:copy: postgres:\/\/postgres@127\.0\.0\.1:5432\/relais_t_\w+ already holds data/);
});

onPostgres(t, 'npm run db:copy prints what it copied; a missing source is refused and not created', async (t, url) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  t.equal((await admin.post('/smtp-servers', validServer)).statusCode, 303);
  const { stdout } = await dbCopy(app.database.file, url);
  t.match(stdout, `Copied ${app.database.file} to postgres://postgres@127.0.0.1:5432/`);
  t.match(stdout, /\n {2}smtp_servers: 1 row\n/);
  t.match(stdout, /\n {2}smtp_server_departments: 1 row\n/);
  t.match(stdout, /\n {2}departments: 3 rows\n/);

  const missing = path.join(t.testdir(), 'nowhere.sqlite');
  const err = await copySqliteToPostgres({ from: missing, to: await createTestDatabase(t) }).catch((e: unknown) => e);
  t.ok(err instanceof CopyRefusedError);
  t.match((err as Error).message, `the SQLite database ${missing} does not exist`);
  t.notOk(fs.existsSync(missing));
});

onPostgres(t, 'a copy that fails half-way leaves the target as it was: one transaction', async (t, url) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  t.equal((await admin.post('/smtp-servers', validServer)).statusCode, 303);
  // PostgreSQL text refuses a NUL character, SQLite keeps it: the last table copied (the audit trail) fails.
  await app.stores.audit.append({ userId: null, name: 'test', ip: null }, { action: 'test.nul', summary: 'NUL \u0000 inside' });
  const err = await copySqliteToPostgres({ from: app.database.file, to: url }).catch((e: unknown) => e);
  t.match((err as Error).message, /invalid byte sequence|0x00/);
  const pool = new pg.Pool({ connectionString: url });
  t.teardown(() => pool.end());
  t.equal(await count(pool, 'smtp_servers'), 0, 'no server was kept');
  t.equal(await count(pool, 'users'), 0);
  t.same((await pool.query(`SELECT code FROM departments ORDER BY id`)).rows.map((r) => r.code), ['achat', 'vente', 'production'], 'the seeded departments are back');
});
