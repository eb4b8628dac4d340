import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../src/db/sqlite/client.js';
import { adminClient, buildTestApp, testSecret, text, validServer } from './helper.js';
import { fillDatabase, longSignature, makeRoom } from './store-faults.js';

// The connection made read-only (SQLITE_READONLY) is the other real failure used here: `PRAGMA query_only`.

t.test('healthz answers 503 when the database no longer accepts writes, 200 again once it does', async (t) => {
  const app = await buildTestApp(t);
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok', database: 'ok' });

  fillDatabase(app.database.sqlite);
  const full = await app.inject({ url: '/healthz' });
  t.equal(full.statusCode, 503);
  t.same(full.json(), { status: 'error', database: 'disk-full' });
  t.equal(full.headers['cache-control'], 'no-store');
  makeRoom(app.database.sqlite);
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200);

  app.database.sqlite.pragma('query_only = ON');
  const readOnly = await app.inject({ url: '/healthz' });
  t.equal(readOnly.statusCode, 503);
  t.same(readOnly.json(), { status: 'error', database: 'write-failed' });
  app.database.sqlite.pragma('query_only = OFF');
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the probe left nothing behind');
});

t.test('healthz answers 503 when the database folder was deleted under a running Relais (writes would go nowhere)', async (t) => {
  const app = await buildTestApp(t);
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  fs.rmSync(path.dirname(app.database.file), { recursive: true, force: true });
  const gone = await app.inject({ url: '/healthz' });
  t.equal(gone.statusCode, 503);
  t.same(gone.json(), { status: 'error', database: 'write-failed' });
});

t.test('a form whose write fails comes back with the values typed and a message saying why; nothing is saved', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const servers = app.repositories.smtpServers;

  fillDatabase(app.database.sqlite);
  const full = await admin.post('/smtp-servers', { ...validServer, title: 'Serveur du disque plein', signature: longSignature });
  t.equal(full.statusCode, 503, 'not a bare 500');
  t.match(text(full.body), 'L’enregistrement a échoué : espace disque insuffisant.');
  t.match(full.body, /id="title"[^>]*value="Serveur du disque plein"/, 'the title typed is kept');
  t.match(full.body, /id="host"[^>]*value="smtp.exemple.fr"/);
  t.notMatch(full.body, validServer.password, 'never the password');
  t.equal((await servers.listServers()).total, 0, 'nothing was saved');

  // htmx asked for the form: the whole page comes back (htmx swaps no 5xx; the page script shows it).
  const htmx = await admin.post('/smtp-servers', { ...validServer, title: 'Par htmx', signature: longSignature }, { 'hx-request': 'true', 'hx-target': 'server-form' });
  t.equal(htmx.statusCode, 503);
  t.match(htmx.body, /<html/);
  t.match(htmx.body, /value="Par htmx"/);

  makeRoom(app.database.sqlite);
  const created = await admin.post('/smtp-servers', { ...validServer, title: 'Serveur du disque plein' });
  t.equal(created.statusCode, 303, 'once there is room the same form saves');
  const [server] = (await servers.listServers()).rows;

  app.database.sqlite.pragma('query_only = ON');
  const edit = await admin.post(`/smtp-servers/${server!.id}`, { ...validServer, title: 'Nouveau titre', password: '' });
  t.equal(edit.statusCode, 503);
  t.match(text(edit.body), 'L’enregistrement a échoué : la base de données a refusé l’écriture.');
  t.match(edit.body, /id="title"[^>]*value="Nouveau titre"/);

  const english = await admin.post(`/smtp-servers/${server!.id}`, { ...validServer, title: 'Nouveau titre', password: '' }, { 'accept-language': 'en' });
  t.equal(english.statusCode, 503);
  t.match(text(english.body), 'Saving failed: the database refused the write.');

  // A write outside a form (a delete) gets a page that says so, not a 500.
  const removal = await admin.post(`/smtp-servers/${server!.id}/delete`);
  t.equal(removal.statusCode, 503);
  t.match(text(removal.body), 'Enregistrement impossible');
  app.database.sqlite.pragma('query_only = OFF');
  t.match(await servers.findServer(server!.id), { title: 'Serveur du disque plein' }, 'the refused edit changed nothing');
  t.equal((await servers.listServers()).total, 1);
});

t.test('the account form too: a refused write keeps the values typed and says why', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const before = (await app.repositories.users.listUsers()).length;
  app.database.sqlite.pragma('query_only = ON');
  const res = await admin.post('/users', { email: 'nouvelle@exemple.fr', displayName: 'Nouvelle Personne', role: 'viewer', password: 'un mot de passe assez long', passwordConfirm: 'un mot de passe assez long' });
  app.database.sqlite.pragma('query_only = OFF');
  t.equal(res.statusCode, 503);
  t.match(text(res.body), 'L’enregistrement a échoué : la base de données a refusé l’écriture.');
  t.match(res.body, /value="nouvelle@exemple.fr"/);
  t.match(res.body, /value="Nouvelle Personne"/);
  t.notMatch(res.body, 'un mot de passe assez long');
  t.equal((await app.repositories.users.listUsers()).length, before, 'no account was created');
});

/** Starts the real entry point (`npm start`) on this database path; resolves with its exit code and output. */
function start(dbFile: string, options: { unprivileged?: boolean } = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  // Permissions mean nothing to root: a test running as root starts Relais as nobody to meet them.
  const asNobody = options.unprivileged && process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : null;
  // tap's process tracking (added to NODE_OPTIONS of every child) writes into .tap/ at exit, which nobody may not.
  const command = asNobody ? ['env', '-u', 'NODE_OPTIONS', process.execPath] : [process.execPath];
  return new Promise((resolve) => {
    const child = spawn(command[0]!, [...command.slice(1), '--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: '0', RELAIS_DB: dbFile, RELAIS_SECRET: testSecret, NODE_ENV: 'production', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asNobody,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

t.test('a database that cannot be opened stops the start with one line saying which file and why', async (t) => {
  const dir = t.testdir({ 'not-a-folder': 'a file where a folder should be', 'garbage.sqlite': 'this is not a SQLite database, only text'.repeat(200) });
  const cases = [
    { dbFile: path.join(dir, 'not-a-folder', 'relais.sqlite'), reason: /is not a folder|not a directory/i },
    { dbFile: path.join(dir, 'garbage.sqlite'), reason: /not a SQLite database/ },
    { dbFile: dir, reason: /it is a folder, not a file/ },
  ];
  for (const { dbFile, reason } of cases) {
    const run = await start(dbFile);
    t.equal(run.code, 1, `a non-zero exit for ${path.basename(dbFile)}`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line, no stack trace: ${run.stderr}`);
    const line = JSON.parse(lines[0]!);
    t.match(line, { level: 60, database: dbFile, reason, msg: `Relais cannot start: cannot open the database ${dbFile}: ` });
    t.notMatch(run.stdout, 'Relais is ready');
  }
  t.equal(fs.readFileSync(path.join(dir, 'not-a-folder'), 'utf8'), 'a file where a folder should be', 'nothing was written over');
});

t.test('a folder Relais may not write in, or a read-only database file, stops the start the same way', async (t) => {
  const dir = t.testdir({ locked: {}, open: {} });
  const readOnlyFile = path.join(dir, 'open', 'relais.sqlite');
  openDatabase(readOnlyFile).close();
  fs.chmodSync(readOnlyFile, 0o444);
  fs.chmodSync(path.join(dir, 'open'), 0o777);
  fs.chmodSync(path.join(dir, 'locked'), 0o555);
  const cases = [
    { dbFile: path.join(dir, 'locked', 'relais.sqlite'), reason: `SQLite cannot open it (unable to open database file); check that ${path.join(dir, 'locked')} exists and is writable` },
    { dbFile: path.join(dir, 'locked', 'sub', 'relais.sqlite'), reason: `permission denied on ${path.join(dir, 'locked', 'sub')}` },
    { dbFile: readOnlyFile, reason: 'the file or its folder is read-only (attempt to write a readonly database)' },
  ];
  for (const { dbFile, reason } of cases) {
    const run = await start(dbFile, { unprivileged: true });
    t.equal(run.code, 1, `a non-zero exit for ${path.relative(dir, dbFile)}`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${run.stderr}`);
    t.match(JSON.parse(lines[0]!), { level: 60, database: dbFile, reason, msg: `Relais cannot start: cannot open the database ${dbFile}: ${reason}` });
  }
  t.notOk(fs.existsSync(path.join(dir, 'locked', 'relais.sqlite')), 'nothing was created');
});
