import fs from 'node:fs';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import t, { type Test } from 'tap';
import { clientSecret, mailbox, privateKeyBody, serviceAccountKey, startTokenEndpoint, startXoauthPeer } from './oauth-peers.js';
import { adminClient, auditTrail, buildTestApp, text, validServer, type Client } from './helper.js';

async function setup(t: Test) {
  const endpoint = await startTokenEndpoint(t);
  const smtp = await startXoauthPeer(t, endpoint);
  const log: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  const app = await buildTestApp(
    t,
    { LOG_LEVEL: 'debug', RELAIS_OAUTH_MICROSOFT_AUTHORITY: endpoint.url, RELAIS_OAUTH_GOOGLE_TOKEN_URL: `${endpoint.url}/google/token` },
    { logStream: stream },
  );
  const admin = await adminClient(app);
  return { endpoint, smtp, app, admin, log };
}

function microsoftForm(port: number, overrides: Record<string, string> = {}) {
  const { password: _password, ...rest } = validServer;
  return {
    ...rest,
    title: 'Vente Microsoft 365',
    host: '127.0.0.1',
    port: String(port),
    security: 'none',
    authentication: 'oauth2-microsoft',
    email: mailbox,
    username: mailbox,
    oauthTenant: 'contoso.onmicrosoft.com',
    oauthClientId: '11111111-2222-3333-4444-555555555555',
    oauthClientSecret: clientSecret,
    confirmCombination: 'on',
    ...overrides,
  };
}

function googleForm(port: number, overrides: Record<string, string> = {}) {
  const { password: _password, ...rest } = validServer;
  return {
    ...rest,
    title: 'Vente Google',
    host: '127.0.0.1',
    port: String(port),
    security: 'none',
    authentication: 'oauth2-google',
    email: mailbox,
    username: mailbox,
    oauthServiceAccountKey: serviceAccountKey,
    confirmCombination: 'on',
    ...overrides,
  };
}

async function create(admin: Client, form: Record<string, string | string[]>): Promise<number> {
  const res = await admin.post('/smtp-servers', form);
  if (res.statusCode !== 303) throw new Error(`not created: ${res.statusCode} ${text(res.body).slice(0, 800)}`);
  const [newest] = (await admin.app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  return newest!.id;
}

async function testPage(admin: Client, id: number): Promise<string> {
  await admin.post(`/smtp-servers/${id}/test`);
  return (await admin.get(`/smtp-servers/${id}/test`)).body;
}

t.test('Microsoft 365: saved with its secret sealed, the test shows the token step before AUTH XOAUTH2, the token is cached', async (t) => {
  const { endpoint, smtp, app, admin } = await setup(t);
  const id = await create(admin, microsoftForm(smtp.port));
  const stored = (await app.stores.servers.find(id))!;
  t.equal(stored.authentication, 'oauth2-microsoft');
  t.equal(stored.oauthTenant, 'contoso.onmicrosoft.com');
  t.equal(stored.oauthClientId, '11111111-2222-3333-4444-555555555555');
  t.match(stored.oauthSecretCiphertext, /^v1:[0-9a-f]{12}:/);
  t.notMatch(stored.oauthSecretCiphertext!, clientSecret);
  t.equal(stored.passwordCiphertext, null);

  const body = text(await testPage(admin, id));
  t.match(body, 'Connexion réussie');
  t.match(body, /Jeton OAuth2.*Réussi.*Authentification \(AUTH\).*Réussi/s, 'the token step comes before AUTH');
  t.match(body, `POST ${endpoint.url}/contoso.onmicrosoft.com/oauth2/v2.0/token`);
  t.match(body, 'Nouveau jeton obtenu, valable 60 min.');
  t.match(body, 'AUTH XOAUTH2');
  t.same(smtp.seen, ['token-1'], 'the peer saw the bearer token');
  t.notMatch(body, 'token-1', 'the token is never shown');
  t.match(endpoint.bodies[0], 'scope=https%3A%2F%2Foutlook.office365.com%2F.default');

  const again = text(await testPage(admin, id));
  t.match(again, 'Jeton déjà obtenu (en mémoire)');
  t.equal(endpoint.state.requests, 1, 'the second test used the cached token');

  const edit = await admin.get(`/smtp-servers/${id}/edit`);
  t.match(text(edit.body), 'Secret enregistré');
  t.notMatch(edit.body, clientSecret);
});

t.test('a token near its expiry is fetched again; concurrent needs make one request', async (t) => {
  const { endpoint, smtp, app, admin } = await setup(t);
  const id = await create(admin, microsoftForm(smtp.port));
  endpoint.state.expiresIn = 120; // within the five minutes of margin: never reused
  await testPage(admin, id);
  const second = text(await testPage(admin, id));
  t.match(second, 'Nouveau jeton obtenu, valable 2 min.');
  t.equal(endpoint.state.requests, 2);

  endpoint.state.expiresIn = 3599;
  const server = (await app.repositories.smtpServers.findServer(id))!;
  const credentials = await app.repositories.smtpServers.revealCredentials(server);
  if (credentials.kind !== 'oauth2') throw new Error('not oauth');
  const before = endpoint.state.requests;
  const tokens = await Promise.all([1, 2, 3, 4].map(() => app.oauthTokens.token(credentials.oauth, credentials.username, { refresh: true })));
  t.equal(endpoint.state.requests, before + 1, 'four concurrent needs, one request');
  t.equal(new Set(tokens.map((x) => x.accessToken)).size, 1);
});

t.test('a 535 to a token accepted before leads to one new token and a success, in the test and the confirmation', async (t) => {
  const { endpoint, smtp, app, admin } = await setup(t);
  const id = await create(admin, microsoftForm(smtp.port));
  t.match(text(await testPage(admin, id)), 'Connexion réussie');
  endpoint.state.valid.delete('token-1'); // revoked at the server
  const body = text(await testPage(admin, id));
  t.match(body, 'Connexion réussie');
  t.match(body, 'Le serveur a refusé le jeton précédent : nouveau jeton obtenu');
  t.same(smtp.seen, ['token-1', 'token-1', 'token-2']);

  endpoint.state.valid.delete('token-2');
  const sent = await admin.post(`/smtp-servers/${id}/confirmation`, { back: '/smtp-servers' });
  t.equal(sent.statusCode, 303);
  t.equal(smtp.messages.length, 1, 'the confirmation left with the new token');
  t.equal(smtp.messages[0]!.to && (smtp.messages[0]!.to as { text: string }).text, mailbox);
  t.equal((await app.stores.servers.find(id))!.confirmationStatus, 'pending');
  t.equal(smtp.seen.at(-1), 'token-3');
});

t.test('Google Workspace: the service account key signs the grant for the mailbox; the confirmation is sent with OAuth2', async (t) => {
  const { endpoint, smtp, app, admin } = await setup(t);
  const id = await create(admin, googleForm(smtp.port));
  const stored = (await app.stores.servers.find(id))!;
  t.equal(stored.oauthClientId, 'relais@relais-test.iam.gserviceaccount.com', 'the service account, read from the key');
  t.notMatch(stored.oauthSecretCiphertext!, privateKeyBody);

  const body = text(await testPage(admin, id));
  t.match(body, 'Connexion réussie');
  t.match(body, `POST ${endpoint.url}/google/token`);
  const assertion = new URLSearchParams(endpoint.bodies[0]).get('assertion')!;
  const claims = JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  t.match(claims, { iss: 'relais@relais-test.iam.gserviceaccount.com', sub: mailbox, scope: 'https://mail.google.com/', aud: `${endpoint.url}/google/token` });

  const sent = await admin.post(`/smtp-servers/${id}/confirmation`, { back: '/smtp-servers' });
  t.equal(sent.statusCode, 303);
  t.equal(smtp.messages.length, 1);
  t.match(smtp.messages[0]!.subject, 'confirmez l’adresse ventes@exemple.fr');

  const edit = text((await admin.get(`/smtp-servers/${id}/edit`)).body);
  t.match(edit, 'Clé enregistrée du compte de service relais@relais-test.iam.gserviceaccount.com');
});

t.test('each failure is diagnosed in words', async (t) => {
  const { smtp, admin } = await setup(t);
  const cases: [string, Record<string, string>, string][] = [
    ['wrong tenant', { oauthTenant: 'wrong-tenant.example' }, 'Locataire introuvable (AADSTS90002)'],
    ['wrong secret', { oauthClientSecret: 'not-the-secret' }, 'Secret client refusé (AADSTS7000215)'],
    ['expired secret', { oauthClientSecret: 'expired-secret' }, 'Secret client expiré (AADSTS7000222)'],
    ['no consent', { oauthClientId: 'no-consent' }, 'Consentement non accordé (AADSTS65001)'],
    ['unknown application', { oauthClientId: 'unknown-app' }, 'Application introuvable dans ce locataire (AADSTS700016)'],
    ['5.7.3 after a valid token', { username: 'nopermission@exemple.fr' }, 'Le jeton est valide mais Exchange le refuse (535 5.7.3)'],
    ['5.7.139', { username: 'noauth@exemple.fr' }, 'SMTP AUTH est désactivé pour le locataire ou pour la boîte « noauth@exemple.fr » (5.7.139)'],
  ];
  let n = 0;
  for (const [name, overrides, words] of cases) {
    const id = await create(admin, microsoftForm(smtp.port, { title: `Cas ${++n}`, ...overrides }));
    const body = text(await testPage(admin, id));
    t.match(body, words, name);
    t.notMatch(body, 'Connexion réussie', name);
  }
  const google = await create(admin, googleForm(smtp.port, { title: 'Sans délégation', username: 'nodelegation@exemple.fr' }));
  t.match(text(await testPage(admin, google)), 'Google refuse le jeton (unauthorized_client) : la délégation au niveau du domaine n’est pas accordée');

  const unreachable = await create(admin, microsoftForm(smtp.port, { title: 'Injoignable' }));
  const page = await admin.post(`/smtp-servers/${unreachable}/confirmation`, { back: '/smtp-servers' });
  t.equal(page.statusCode, 303, 'a confirmation that fails is recorded, not a 500');
});

t.test('550 5.7.30 to a password is told as basic authentication retired', async (t) => {
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: ['STARTTLS'],
    onAuth(_auth, _session, callback) {
      callback(Object.assign(new Error('5.7.30 Basic authentication is not supported for Client Submission.'), { responseCode: 550 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await create(admin, { ...validServer, host: '127.0.0.1', port: String((server.server.address() as net.AddressInfo).port), security: 'none', confirmCombination: 'on' });
  t.match(text(await testPage(admin, id)), 'Le serveur n’accepte plus l’authentification par mot de passe (550 5.7.30) : choisissez « OAuth2 — Microsoft 365 »');
});

t.test('the form: errors by field, the other modes ignored, the stored secret reused only along the same path', async (t) => {
  const { smtp, app, admin } = await setup(t);
  const bad = await admin.post('/smtp-servers', microsoftForm(smtp.port, { oauthTenant: 'bad/tenant', oauthClientId: '', oauthClientSecret: '', username: 'not-an-address' }));
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /id="oauthTenant-error">Le locataire est un GUID ou un nom de domaine/);
  t.match(bad.body, /id="oauthClientId-error">Indiquez l’ID d’application/);
  t.match(bad.body, /id="oauthClientSecret-error">Indiquez le secret client/);
  t.match(bad.body, /id="username-error">Avec OAuth2, l’utilisateur est l’adresse de la boîte mail/);
  t.match(bad.body, /<input id="oauthTenant" name="oauthTenant" type="text" value="bad\/tenant"[^>]*aria-invalid="true"/);

  const badKey = await admin.post('/smtp-servers', googleForm(smtp.port, { oauthServiceAccountKey: '{"type":"service_account"}' }));
  t.equal(badKey.statusCode, 422);
  t.match(badKey.body, /id="oauthServiceAccountKey-error">Cette clé n’a pas les champs client_email et private_key/);
  const notJson = await admin.post('/smtp-servers', googleForm(smtp.port, { oauthServiceAccountKey: 'not json' }));
  t.match(notJson.body, /id="oauthServiceAccountKey-error">Ce n’est pas du JSON/);

  // A password form with OAuth2 fields filled: they are ignored.
  const passwordId = await create(admin, { ...validServer, title: 'Mot de passe', oauthTenant: 'contoso.onmicrosoft.com', oauthClientId: 'x', oauthClientSecret: clientSecret });
  const row = (await app.stores.servers.find(passwordId))!;
  t.same([row.oauthTenant, row.oauthClientId, row.oauthSecretCiphertext], ['', '', null]);

  const id = await create(admin, microsoftForm(smtp.port));
  const { oauthClientSecret: _secret, ...blank } = microsoftForm(smtp.port);
  const version = () => app.stores.servers.find(id).then((s) => String(s!.version));
  const kept = await admin.post(`/smtp-servers/${id}`, { ...blank, oauthClientSecret: '', senderName: 'Autre nom', version: await version() });
  t.equal(kept.statusCode, 303, 'the same path keeps the stored secret');
  const moved = await admin.post(`/smtp-servers/${id}`, { ...blank, oauthClientSecret: '', oauthClientId: '99999999-2222-3333-4444-555555555555', version: await version() });
  t.equal(moved.statusCode, 422);
  t.match(moved.body, /id="oauthClientSecret-error">Le serveur, la boîte, le locataire ou l’application ont changé : retapez le secret client/);
  const host = await admin.post(`/smtp-servers/${id}`, { ...blank, oauthClientSecret: '', host: 'localhost', version: await version() });
  t.equal(host.statusCode, 422, 'another host: the secret is asked again');

  // Switching to a password clears the OAuth2 secret.
  const switched = await admin.post(`/smtp-servers/${id}`, { ...validServer, title: 'Vente Microsoft 365', host: '127.0.0.1', port: String(smtp.port), security: 'none', confirmCombination: 'on', version: await version() });
  t.equal(switched.statusCode, 303);
  const after = (await app.stores.servers.find(id))!;
  t.equal(after.oauthSecretCiphertext, null);
  t.equal(after.oauthTenant, '');
});

t.test('nudges on the list and the form for Microsoft 365 and Gmail with a password', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const office = await create(admin, { ...validServer, title: 'Office', host: 'smtp.office365.com' });
  await create(admin, { ...validServer, title: 'Gmail', host: 'smtp.gmail.com' });
  await create(admin, { ...validServer, title: 'Autre' });
  const list = await admin.get('/smtp-servers');
  t.equal((list.body.match(/class="badge badge-nudge"/g) ?? []).length, 2);
  t.match(list.body, 'Microsoft désactive par défaut l’authentification par mot de passe');
  t.match(list.body, 'mot de passe d’application');
  const form = text((await admin.get(`/smtp-servers/${office}/edit`)).body);
  t.match(form, 'Microsoft désactive par défaut l’authentification par mot de passe (SMTP AUTH basic) des locataires Exchange Online à partir de fin décembre 2026');
  t.match(form, 'New-ServicePrincipal', 'the admin steps name the commands');
  t.match(form, 'SMTP.SendAsApp');
});

t.test('the secrets appear in no page, log, export, audit entry or database file in clear', async (t) => {
  const { smtp, app, admin, log } = await setup(t);
  const ms = await create(admin, microsoftForm(smtp.port));
  const google = await create(admin, googleForm(smtp.port));
  // A failed save and a test of typed values carry the secrets in the request too.
  await admin.post('/smtp-servers', microsoftForm(smtp.port, { title: '' }));
  await admin.post('/smtp-servers/new/test', googleForm(smtp.port));
  const pages = [
    await testPage(admin, ms),
    await testPage(admin, google),
    (await admin.get(`/smtp-servers/${ms}/edit`)).body,
    (await admin.get(`/smtp-servers/${google}/edit`)).body,
    (await admin.get('/smtp-servers')).body,
    (await admin.get('/audit')).body,
    (await admin.get('/smtp-servers/export.csv')).body,
  ];
  await admin.post(`/smtp-servers/${ms}/confirmation`, { back: '/smtp-servers' });
  const replaced = await admin.post(`/smtp-servers/${ms}`, { ...microsoftForm(smtp.port), oauthClientSecret: 'Another~Secret-Value', version: String((await app.stores.servers.find(ms))!.version) });
  t.equal(replaced.statusCode, 303);
  const audit = JSON.stringify(await auditTrail(app));
  t.match(audit, '"oauthSecret":["modifié","modifié"]', 'the audit trail says the secret changed, never what it is');
  const everything = [...pages, log.join(''), audit];
  for (const secret of [clientSecret, 'Another~Secret-Value', privateKeyBody, 'token-1', 'token-2']) {
    t.notOk(everything.some((chunk) => chunk.includes(secret)), `${secret.slice(0, 12)}… is nowhere`);
  }
  t.ok(log.join('').length > 0, 'the log was captured');
  if (app.config.dbFile) {
    await app.close();
    const dir = app.config.dbFile.replace(/[^/]+$/, '');
    for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('relais.sqlite'))) {
      const bytes = fs.readFileSync(`${dir}${file}`).toString('latin1');
      t.notOk(bytes.includes(clientSecret) || bytes.includes(privateKeyBody), `${file} holds no secret in clear`);
    }
  }
});

t.test('key rotation re-encrypts the OAuth2 secrets too', async (t) => {
  const { smtp, app, admin } = await setup(t);
  const id = await create(admin, microsoftForm(smtp.port));
  const { rotateSecrets } = await import('../src/crypto/stored-secrets.js');
  const { SecretBox, keyFromSecret } = await import('../src/crypto/secret-box.js');
  const box = new SecretBox(keyFromSecret('a brand new key for the rotation'), [app.secrets.current]);
  const result = await rotateSecrets(app.stores, box, { userId: null, name: 'test' } as never);
  t.equal(result.rewritten, 1);
  const envelope = (await app.stores.servers.find(id))!.oauthSecretCiphertext!;
  t.equal(box.decrypt(envelope), clientSecret);
  t.match(envelope, `v1:${box.current.id}:`);
});

t.test('the Google key as an uploaded .json file: saved sealed like the pasted one; a file that is not a key is refused by its field', async (t) => {
  const { app, smtp } = await setup(t);
  const admin = await adminClient(app);
  const { oauthServiceAccountKey: _pasted, departments, ...fields } = googleForm(smtp.port);
  const res = await admin.postMultipart('/smtp-servers', { ...fields, departments, oauthServiceAccountKey: '' }, { oauthServiceAccountKeyFile: { filename: 'relais-test-k1.json', content: Buffer.from(serviceAccountKey), type: 'application/json' } });
  t.equal(res.statusCode, 303, text(res.body).slice(0, 400));
  const [created] = (await app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  t.equal(await app.repositories.smtpServers.revealOauthSecret(created!.id), serviceAccountKey, 'the file’s content is the stored secret');
  t.notMatch((await app.stores.servers.find(created!.id))!.oauthSecretCiphertext, privateKeyBody, 'sealed, not in clear');

  // As `curl -F oauthServiceAccountKey=@key.json` sends it: the file under the key's own name.
  const byName = await admin.postMultipart('/smtp-servers', { ...fields, title: 'Par curl', departments }, { oauthServiceAccountKey: { filename: 'key.json', content: Buffer.from(serviceAccountKey), type: 'application/json' } });
  t.equal(byName.statusCode, 303, text(byName.body).slice(0, 400));
  const [viaCurl] = (await app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  t.equal(await app.repositories.smtpServers.revealOauthSecret(viaCurl!.id), serviceAccountKey);

  const refused = await admin.postMultipart('/smtp-servers', { ...fields, title: 'Autre', departments, oauthServiceAccountKey: '' }, { oauthServiceAccountKeyFile: { filename: 'notes.json', content: Buffer.from('pas une clé'), type: 'application/json' } });
  t.equal(refused.statusCode, 422);
  t.match(refused.body, /id="oauthServiceAccountKey-error"/, 'the error next to the key field');
  t.notMatch(refused.body, 'pas une clé', 'the file’s content is not echoed');
});
