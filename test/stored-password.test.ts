import t, { type Test } from 'tap';
import { adminClient, buildTestApp, type Client } from './helper.js';
import { formFor, peerUser, serverThrough, startSmtpPeer, type SmtpPeer } from './smtp-peer.js';
import { tlsFixtures } from './tls-fixtures.js';

const tls = tlsFixtures();

function encoded(fields: Record<string, string | string[]>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(key, v);
  return form.toString();
}

const htmx = { 'hx-request': 'true', 'hx-target': 'test-result' };

/** Every way of sending "password blank, and also x" seen in the review, towards `towards` (the form's other fields). */
async function attack(t: Test, admin: Client, id: number, towards: Record<string, string | string[]>) {
  const { password: _omitted, ...fields } = towards;
  const url = `/smtp-servers/${id}/edit/test`;
  const rest = encoded(fields);
  const statuses = {
    duplicated: (await admin.postRaw(url, `${rest}&password=&password=x`)).statusCode,
    duplicatedHtmx: (await admin.postRaw(url, `${rest}&password=&password=x`, htmx)).statusCode,
    bracketed: (await admin.postRaw(url, `${rest}&password[]=x`)).statusCode,
    jsonArray: (await admin.postJson(url, { ...fields, password: ['x'] })).statusCode,
    jsonArrayHtmx: (await admin.postJson(url, { ...fields, password: ['x'] }, htmx)).statusCode,
    jsonObject: (await admin.postJson(url, { ...fields, password: { '0': 'x' } })).statusCode,
    blank: (await admin.post(url, { ...fields, password: '' })).statusCode,
    blankHtmx: (await admin.post(url, { ...fields, password: '' }, htmx)).statusCode,
  };
  t.same(statuses, { duplicated: 400, duplicatedHtmx: 400, bracketed: 400, jsonArray: 400, jsonArrayHtmx: 400, jsonObject: 400, blank: 422, blankHtmx: 422 });
}

async function setup(t: Test) {
  const genuine = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  return { genuine, app, admin };
}

/** The attacker's peer would take a login (a typed password reaches it); the stored one must never. */
async function provesItWouldListen(t: Test, admin: Client, id: number, peer: SmtpPeer, towards: Record<string, string | string[]>) {
  t.equal(peer.authAttempts, 0, 'the other peer saw no AUTH');
  const typed = await admin.post(`/smtp-servers/${id}/edit/test`, { ...towards, password: 'typed-by-the-attacker' });
  t.equal(typed.statusCode, 200);
  t.equal(peer.authAttempts, 1, 'a password typed again does reach it: the peer was listening');
}

t.test('another port: duplicated, bracketed, JSON and htmx password fields never send the stored password', async (t) => {
  const { genuine, admin } = await setup(t);
  const elsewhere = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
  const id = await serverThrough(admin, genuine);
  const towards = formFor(elsewhere);
  await attack(t, admin, id, towards);
  t.equal(genuine.authAttempts, 0);
  await provesItWouldListen(t, admin, id, elsewhere, towards);
});

t.test('towards security « Aucune » from a server stored with STARTTLS', async (t) => {
  const { genuine, admin } = await setup(t);
  const elsewhere = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
  const id = await serverThrough(admin, genuine, { security: 'starttls' });
  const towards = formFor(elsewhere, { security: 'none' });
  await attack(t, admin, id, towards);
  await provesItWouldListen(t, admin, id, elsewhere, towards);
});

t.test('towards a self-signed certificate with the check turned off', async (t) => {
  const { genuine, admin } = await setup(t);
  const selfSigned = await startSmtpPeer(t, { secure: true, key: tls.selfSigned.key, cert: tls.selfSigned.cert });
  const id = await serverThrough(admin, genuine, { security: 'tls', verifyCertificate: 'on' });
  const { verifyCertificate: _checked, ...unchecked } = formFor(selfSigned, { security: 'tls' });
  await attack(t, admin, id, unchecked);
  await provesItWouldListen(t, admin, id, selfSigned, unchecked);
});

t.test('from a duplicated server', async (t) => {
  const { genuine, admin, app } = await setup(t);
  const elsewhere = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
  const id = await serverThrough(admin, genuine);
  const copy = await admin.post(`/smtp-servers/${id}/duplicate`);
  t.equal(copy.headers.location, `/smtp-servers/new?from=${id}`, 'the copy opens in the new-server form');
  // « Créer le serveur » on the copy, password left blank: the source's password comes along (same server).
  const copyId = await serverThrough(admin, genuine, { title: 'Copie', duplicateOf: String(id), password: '' });
  t.equal(await app.repositories.smtpServers.revealPassword(copyId), peerUser.password, 'the copy holds the stored password');
  const towards = formFor(elsewhere);
  await attack(t, admin, copyId, towards);
  await provesItWouldListen(t, admin, copyId, elsewhere, towards);
});

t.test('the stored password still tests its own server, and the audit trail says where it went', async (t) => {
  const { genuine, admin } = await setup(t);
  const id = await serverThrough(admin, genuine);
  const same = await admin.post(`/smtp-servers/${id}/edit/test`, formFor(genuine, { password: '' }));
  t.equal(same.statusCode, 200);
  t.equal(genuine.authAttempts, 1);
  await admin.post(`/smtp-servers/${id}/test`);
  t.equal(genuine.authAttempts, 2);
  await admin.post(`/smtp-servers/${id}/edit/test`, formFor(genuine, { password: 'typed' }));
  const tests = (await admin.app.repositories.audit.list({ action: 'server.test' })).rows;
  const destination = `127.0.0.1:${genuine.port}`;
  t.equal(tests.filter((row) => row.changes?.storedPassword?.[1] === destination).length, 2, 'the two tests with the stored password say so, with host and port');
  t.ok(tests.some((row) => row.changes?.unsaved && !row.changes.storedPassword), 'a typed password is not called stored');
  t.notOk(JSON.stringify(await admin.app.repositories.audit.list({})).includes(peerUser.password), 'the secret itself is never in the trail');
  const page = await admin.get('/audit?action=server.test');
  t.match(page.body, `Mot de passe enregistré utilisé vers`, 'the audit page says it in words');
});
