import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { Client, createAccount, signIn, testSmtpEnv, text } from './helper.js';
import { formFor, peerUser, serverThrough, startSmtpPeer, type SmtpPeer } from './smtp-peer.js';

const oldSecret = 'la clé de l’an dernier : longue et secrète';
const newSecret = 'la clé de cette année : longue et secrète aussi';

/** Starts the real app on this database file with these keys, as a restart would; returns it and what it logged. */
async function startOn(t: Test, dbFile: string, env: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({ NODE_ENV: 'test', RELAIS_DB: dbFile, RELAIS_URL: 'http://relais.test', RELAIS_PASSWORD_HASH_COST: '10', ...testSmtpEnv, ...env });
  const app = await buildApp(config, { logStream });
  t.teardown(() => app.close());
  return { app, lines };
}

/** A client signed in as the administrator made on the first start (the cookie key moves with RELAIS_SECRET). */
async function admin(app: Awaited<ReturnType<typeof startOn>>['app'], email = 'admin1@relais.test') {
  const client = new Client(app);
  await signIn(client, email);
  return client;
}

/** `npm run secrets:rotate`, as an administrator runs it. */
function rotate(dbFile: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/rotate-secrets.ts'], {
      env: { ...process.env, RELAIS_DB: dbFile, RELAIS_SECRET: '', RELAIS_PREVIOUS_SECRETS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

const census = (lines: Record<string, unknown>[]) => lines.find((l) => 'underOldKey' in l);

/** Seeds, with the old key, one server whose password goes to the peer and one without a password. */
async function seedUnderOldKey(t: Test, peer: SmtpPeer) {
  const dbFile = path.join(t.testdir(), 'relais.sqlite');
  const first = await startOn(t, dbFile, { RELAIS_SECRET: oldSecret });
  await createAccount(first.app, 'admin');
  const client = await admin(first.app);
  const id = await serverThrough(client, peer);
  await serverThrough(client, peer, { title: 'Sans mot de passe', authentication: 'none', password: '' });
  t.match(census(first.lines), { underOldKey: 0 }, 'the first start finds nothing to rotate');
  await first.app.close();
  return { dbFile, id };
}

t.test('rotation: started with a new key and the old one, the log counts what is left; secrets:rotate rewrites it; the old key can then go', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const { dbFile, id } = await seedUnderOldKey(t, peer);

  const during = await startOn(t, dbFile, { RELAIS_SECRET: newSecret, RELAIS_PREVIOUS_SECRETS: oldSecret });
  t.match(census(during.lines), { level: 40, underOldKey: 1, undecryptable: 0, msg: /1 stored secret\(s\) under a key that is not the current one.*secrets:rotate/ });
  t.equal(await during.app.repositories.smtpServers.revealPassword(id), peerUser.password, 'the old key still decrypts');
  await during.app.close();

  const run = await rotate(dbFile, { RELAIS_SECRET: newSecret, RELAIS_PREVIOUS_SECRETS: oldSecret });
  t.equal(run.code, 0, run.out);
  t.match(run.out, /^1 value\(s\) re-encrypted with key [0-9a-f]{12}, 0 already under it\./);
  t.match(run.out, 'No stored secret needs an old key any more');
  t.notMatch(run.out, peerUser.password);
  const again = await rotate(dbFile, { RELAIS_SECRET: newSecret, RELAIS_PREVIOUS_SECRETS: oldSecret });
  t.match(again.out, /^0 value\(s\) re-encrypted with key [0-9a-f]{12}, 1 already under it\./, 'running it again rewrites nothing');

  // Without the old key: everything still works, with the password typed under the old key.
  const after = await startOn(t, dbFile, { RELAIS_SECRET: newSecret });
  t.match(census(after.lines), { level: 30, underOldKey: 0, msg: 'every stored secret is under the current key' });
  const client = await admin(after.app);
  const audit = await after.app.repositories.audit.list({ action: 'secrets.rotate' });
  t.equal(audit.total, 1, 'one audit entry: the second run rewrote nothing');
  t.match(audit.rows[0], { actor: 'npm run secrets:rotate', userId: null, summary: /^[0-9a-f]{12}$/, changes: { underOldKey: [1, 0] } });
  t.notMatch(JSON.stringify(audit.rows[0]), peerUser.password);
  const auditPage = text((await client.get('/audit')).body);
  t.match(auditPage, 'Rechiffrement des secrets avec la clé actuelle');
  t.match(auditPage, 'Secrets sous une ancienne clé : 1 → 0');
  const server = await after.app.repositories.smtpServers.findServer(id);
  t.match(server, { hasPassword: true, passwordUnreadable: false });
  t.equal((await client.post(`/smtp-servers/${id}/test`)).statusCode, 303);
  t.equal((await after.app.repositories.smtpServers.findServer(id))?.lastTestOk, true, 'the peer accepted the rotated password');
  t.equal(peer.authAttempts, 1);
});

t.test('a password no configured key opens: the list marks it, the form, the test and the confirmation say what to do; nothing is sent or changed', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const { dbFile, id } = await seedUnderOldKey(t, peer);

  const lost = await startOn(t, dbFile, { RELAIS_SECRET: newSecret });
  t.match(census(lost.lines), { level: 40, underOldKey: 1, undecryptable: 1 });
  const servers = lost.app.repositories.smtpServers;
  const client = await admin(lost.app);

  const list = await client.get('/smtp-servers');
  const rowOf = (html: string, serverId: number) => new RegExp(`<tr id="?server-${serverId}"?>[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
  t.match(text(rowOf(list.body, id)), 'Mot de passe illisible', 'the list marks the server');
  t.notMatch(text(rowOf(list.body, id + 1)), 'Mot de passe illisible', 'not the server without a password');

  const form = await client.get(`/smtp-servers/${id}/edit`);
  t.equal(form.statusCode, 200);
  t.match(text(form.body), 'Mot de passe illisible');
  t.match(text(form.body), 'Saisissez-le à nouveau, ou redémarrez Relais avec l’ancienne clé dans RELAIS_PREVIOUS_SECRETS.');
  t.match(form.body, /id="password-hint"[^>]*>Le mot de passe enregistré a été chiffré avec une clé que Relais n’a plus/);

  const testPage = await client.get(`/smtp-servers/${id}/test`);
  t.match(text(testPage.body), 'Mot de passe illisible Le mot de passe enregistré a été chiffré avec une clé que Relais n’a plus', 'the server’s test page says it too');

  const before = await servers.findServer(id);
  const test = await client.post(`/smtp-servers/${id}/test`);
  t.equal(test.statusCode, 409, 'the connection test is refused, not a 500');
  t.match(text(test.body), 'Mot de passe enregistré illisible');
  t.match(text(test.body), 'rien n’a été envoyé. Saisissez-le à nouveau dans le formulaire du serveur, ou redémarrez Relais avec l’ancienne clé dans RELAIS_PREVIOUS_SECRETS.');
  t.match(test.body, `href="/smtp-servers/${id}/edit"`);

  const confirmation = await client.post(`/smtp-servers/${id}/confirmation`, { back: '/smtp-servers' });
  t.equal(confirmation.statusCode, 409, 'the confirmation is refused, not a 500');
  t.match(text(confirmation.body), 'Saisissez-le à nouveau dans le formulaire du serveur');

  const draft = await client.post(`/smtp-servers/${id}/edit/test`, formFor(peer, { password: '' }));
  t.equal(draft.statusCode, 422, '"Tester avant d’enregistrer" with the field blank asks for the password');
  t.match(draft.body, /id="password-error">Indiquez le mot de passe du compte mail\./);

  t.equal(peer.authAttempts, 0, 'no password went anywhere');
  t.equal(peer.messages.length, 0);
  t.same(await servers.findServer(id), before, 'the refused requests changed nothing (no test recorded, no confirmation pending)');

  const english = await client.post(`/smtp-servers/${id}/test`, {}, { 'accept-language': 'en' });
  t.match(text(english.body), 'Stored password unreadable');

  // The rotation cannot finish: it says so, and leaves the value for the old key.
  const run = await rotate(dbFile, { RELAIS_SECRET: newSecret });
  t.equal(run.code, 2, 'a non-zero exit: the old key is still needed');
  t.match(run.out, '0 value(s) re-encrypted');
  t.match(run.out, '1 value(s) still need an old key: add it to RELAIS_PREVIOUS_SECRETS');

  // Typing the password again puts it under the current key.
  const saved = await client.post(`/smtp-servers/${id}`, formFor(peer));
  t.equal(saved.statusCode, 303);
  t.match(await servers.findServer(id), { hasPassword: true, passwordUnreadable: false });
  t.equal((await client.post(`/smtp-servers/${id}/test`)).statusCode, 303);
  t.equal((await servers.findServer(id))?.lastTestOk, true);
});

t.test('restoring the old key opens an unreadable password again; a copy made meanwhile asks for the password', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const { dbFile, id } = await seedUnderOldKey(t, peer);

  const lost = await startOn(t, dbFile, { RELAIS_SECRET: newSecret });
  const client = await admin(lost.app);
  const serversBefore = (await lost.app.repositories.smtpServers.listServers({})).total;
  const copy = await client.post(`/smtp-servers/${id}/duplicate`);
  t.equal(copy.headers.location, `/smtp-servers/new?from=${id}`, 'duplicating is not refused: the copy opens in the form');
  const blank = await client.post('/smtp-servers', formFor(peer, { title: 'Copie', duplicateOf: String(id), password: '' }));
  t.equal(blank.statusCode, 422, 'a password no key opens is not copied: it must be typed');
  t.match(text(blank.body), 'Indiquez le mot de passe du compte mail.');
  t.equal((await lost.app.repositories.smtpServers.listServers({})).total, serversBefore, 'nothing was saved');
  await lost.app.close();

  const restored = await startOn(t, dbFile, { RELAIS_SECRET: newSecret, RELAIS_PREVIOUS_SECRETS: oldSecret });
  t.match(census(restored.lines), { undecryptable: 0 });
  t.match(await restored.app.repositories.smtpServers.findServer(id), { passwordUnreadable: false });
  t.equal(await restored.app.repositories.smtpServers.revealPassword(id), peerUser.password);
});

t.test('secrets:rotate without a key to rotate to changes nothing and says why in one line', async (t) => {
  const dbFile = path.join(t.testdir(), 'relais.sqlite');
  const run = await rotate(dbFile, {});
  t.equal(run.code, 1);
  t.equal(run.out.trim(), `secrets:rotate: nothing was changed: No key: RELAIS_SECRET is not set and ${path.join(path.dirname(dbFile), 'relais.key')} does not exist`);
  t.notOk(fs.existsSync(path.join(path.dirname(dbFile), 'relais.key')), 'no key file was made up');
});
