import t from 'tap';
import { adminClient, auditTrail, buildTestApp, Client, createAccount, text, validServer, viewerClient } from './helper.js';

function rowsOf(html: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]!).trim());
}

t.test('the audit page lists who did what, newest first, with the changed fields and no secret', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  await admin.post('/smtp-servers', validServer);
  const id = (await app.repositories.smtpServers.listServers()).rows[0]!.id;
  await admin.post(`/smtp-servers/${id}`, { ...validServer, host: 'smtp2.exemple.fr', password: 'Another-Secret-42' });
  const stranger = new Client(app);
  stranger.remoteAddress = '192.0.2.50';
  await stranger.post('/login', { email: 'admin1@relais.test', password: 'wrong passphrase again' });

  const page = await admin.get('/audit');
  t.equal(page.statusCode, 200);
  const rows = rowsOf(page.body);
  t.match(rows[0], /admin1@relais\.test 192\.0\.2\.50 Échec de connexion Compte #\d+ — admin1@relais\.test/, 'the newest first: the failed sign-in');
  t.match(rows[1], /admin1@relais\.test 127\.0\.0\.1 Modification de serveur Serveur #\d+ — Vente principale/);
  t.match(rows[1], 'Hôte : smtp.exemple.fr → smtp2.exemple.fr');
  t.match(rows[1], 'Mot de passe : modifié → modifié');
  t.match(rows[2], 'Création de serveur');
  t.match(rows[3], 'Connexion');
  t.notMatch(page.body, validServer.password, 'no SMTP password on the page');
  t.notMatch(page.body, 'Another-Secret-42');
  t.notMatch(page.body, 'wrong passphrase again', 'no typed password on the page');
  t.match(page.body, '<form class="search audit-filters" method="get" action="/audit"', 'filters are a plain GET form: no JavaScript needed');
});

t.test('filters by user, action and text, and paginates with plain links', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const other = await createAccount(app, 'viewer', { displayName: 'Berthe' });
  for (let i = 1; i <= 120; i++) {
    await app.repositories.audit.record({ userId: other.id, name: other.email, ip: '10.1.1.1' }, { action: 'server.create', targetType: 'smtp_server', targetId: i, summary: `Serveur n°${i}` });
  }
  await app.repositories.audit.record({ userId: other.id, name: other.email, ip: '10.1.1.1' }, { action: 'server.delete', summary: 'Serveur à part' });

  const byAction = await admin.get('/audit?action=server.delete');
  t.same(rowsOf(byAction.body).length, 1);
  t.match(rowsOf(byAction.body)[0], 'Suppression de serveur');
  t.match(byAction.body, '<option value="server.delete" selected>');

  const byText = await admin.get(`/audit?q=${encodeURIComponent('n°42')}`);
  t.same(rowsOf(byText.body).length, 1);
  t.match(rowsOf(byText.body)[0], 'Serveur n°42');

  const adminId = (await app.repositories.users.findUserByEmail('admin1@relais.test'))!.id;
  const byUser = await admin.get(`/audit?user=${adminId}`);
  const mine = rowsOf(byUser.body);
  t.ok(mine.length >= 1);
  for (const row of mine) t.match(row, 'admin1@relais.test', 'only the chosen user’s actions');
  t.match(byUser.body, `<option value="${adminId}" selected>`);

  const first = await admin.get(`/audit?user=${other.id}`);
  t.equal(rowsOf(first.body).length, 50, '50 per page');
  t.match(text(first.body), '1–50 sur 121 entrées');
  t.match(rowsOf(first.body)[0], 'Serveur à part', 'newest first');
  t.match(first.body, `href="/audit?user=${other.id}&amp;page=2"`, 'the next page keeps the filter');
  const last = await admin.get(`/audit?user=${other.id}&page=3`);
  t.equal(rowsOf(last.body).length, 21);
  t.match(rowsOf(last.body).at(-1), 'Serveur n°1');
  t.match(last.body, `href="/audit?user=${other.id}&amp;page=2"`);
  const beyond = await admin.get(`/audit?user=${other.id}&page=99`);
  t.match(text(beyond.body), 'Page 3 sur 3', 'a page past the end shows the last one');

  const none = await admin.get('/audit?q=introuvable');
  t.match(text(none.body), 'Aucune entrée ne correspond.');
});

t.test('the audit page is for administrators', async (t) => {
  const app = await buildTestApp(t);
  const viewer = await viewerClient(app);
  t.equal((await viewer.get('/audit')).statusCode, 403);
  const anonymous = await app.inject({ url: '/audit?action=auth.login' });
  t.equal(anonymous.statusCode, 303);
  t.equal(anonymous.headers.location, '/login?next=%2Faudit%3Faction%3Dauth.login');
});

t.test('server changes carry the signed-in user', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  await admin.post('/smtp-servers', validServer);
  const [entry] = await auditTrail(app, 'server.create');
  const adminId = (await app.repositories.users.findUserByEmail('admin1@relais.test'))!.id;
  t.same({ userId: entry!.userId, actor: entry!.actor, ip: entry!.ip }, { userId: adminId, actor: 'admin1@relais.test', ip: '127.0.0.1' });
});
