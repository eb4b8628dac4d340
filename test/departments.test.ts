// Departments: adding, renaming, deactivating; the order of their servers; the warnings; the confirmation asked before
// leaving a department with no usable server. On SQLite, and on PostgreSQL under RELAIS_TEST_STORE=postgres.
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { adminClient, auditTrail, buildTestApp, Client, createAccount, seedServers, signIn, text, validServer, viewerClient } from './helper.js';
import { onPostgres } from './stores.js';

const fragment = { 'hx-request': 'true', 'hx-target': 'department-servers' };

async function departmentId(app: FastifyInstance, code: string): Promise<number> {
  return (await app.stores.departments.findByCode(code))!.id;
}

/** The department's servers as its routing sees them: [title, position] in order. */
async function orderOf(app: FastifyInstance, code: string): Promise<[string, number | null][]> {
  return (await app.stores.departments.candidates(await departmentId(app, code))).map((s) => [s.title, s.position]);
}

/** Servers seeded for Vente only, each confirmed (so usable). */
async function usableServers(app: FastifyInstance, titles: string[], make: (i: number) => Partial<typeof validServer> = () => ({})) {
  const servers = await seedServers(app, titles.length, (i) => ({ title: titles[i - 1]!, ...make(i) }));
  for (const server of servers) await app.stores.servers.update(server.id, { confirmationStatus: 'confirmed' });
  return servers;
}

/** The titles of the department page's servers, in the order the page shows them. */
function pageOrder(html: string): string[] {
  const body = /<table class="data-table department-servers">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<th scope="row" id="ds\d+">(?:<a [^>]*>)?([^<]+)/g)].map((m) => m[1]!.trim());
}

t.test('Achat, Vente and Production are there from the start; an administrator adds, renames and deactivates one', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const list = await admin.get('/departments');
  t.equal(list.statusCode, 200);
  t.match(text(list.body), /Achat achat .*Vente vente .*Production production/);
  t.match(list.body, 'href="/departments" aria-current="page"', 'the navigation links to it');

  const bad = await admin.post('/departments', { code: 'Compta!', name: '' });
  t.equal(bad.statusCode, 422);
  t.match(bad.body, /<p class="field-error" id="code-error">Le code ne peut contenir que des lettres minuscules/);
  t.match(bad.body, /id="code" name="code" type="text" value="Compta!"[^>]* aria-invalid="true" aria-describedby="code-hint code-error"/);
  t.match(bad.body, /id="name-error">Indiquez un nom\./);
  t.match(bad.body, '<a href="#code">', 'the summary links to the field');

  const taken = await admin.post('/departments', { code: 'vente', name: 'Ventes bis' });
  t.equal(taken.statusCode, 422);
  t.match(text(taken.body), 'Un département a déjà le code « vente ».');
  t.equal((await app.stores.departments.list()).length, 3, 'nothing added');

  // A server in default usage serves the new department and is found by its name.
  const [everyone] = await seedServers(app, 1, () => ({ title: 'Commun', usage: 'default', departments: [] }));
  const added = await admin.post('/departments', { code: 'comptabilite', name: 'Comptabilité' });
  t.equal(added.statusCode, 303);
  t.equal(added.headers.location, '/departments/comptabilite');
  const page = await admin.get('/departments/comptabilite');
  t.match(text(page.body), 'Le département « Comptabilité » a été ajouté.');
  t.same(pageOrder(page.body), ['Commun']);
  t.same((await app.repositories.smtpServers.listServers({ q: 'comptabilite' })).rows.map((s) => s.id), [everyone!.id], 'found by the new name');

  const renamed = await admin.post('/departments/comptabilite', { name: 'Finance et comptabilité' });
  t.equal(renamed.statusCode, 303);
  t.equal(renamed.headers.location, '/departments/comptabilite', 'the code does not change');
  t.equal((await app.stores.departments.findByCode('comptabilite'))!.name, 'Finance et comptabilité');
  t.same((await app.repositories.smtpServers.listServers({ q: 'finance' })).rows.map((s) => s.id), [everyone!.id], 'found by the name it now has');
  t.equal((await app.repositories.smtpServers.listServers({ q: 'comptabilite' })).total, 1, 'the name still holds the word');
  const emptyName = await admin.post('/departments/comptabilite', { name: '  ' });
  t.equal(emptyName.statusCode, 422);
  t.match(emptyName.body, /id="name" name="name" type="text" value=""[^>]* aria-invalid="true"/);

  // The server form offers it, then no longer once deactivated, but still shows it on a server linked to it.
  const [linked] = await seedServers(app, 1, () => ({ title: 'Lié', usage: 'custom', departments: ['vente'] }));
  await admin.post(`/smtp-servers/${linked!.id}`, { ...validServer, title: 'Lié', password: '', departments: ['vente', 'comptabilite'] });
  t.match((await admin.get('/smtp-servers/new')).body, 'id="departments-comptabilite"');
  const off = await admin.post('/departments/comptabilite/active', { active: '0' });
  t.equal(off.statusCode, 303);
  t.equal((await app.stores.departments.findByCode('comptabilite'))!.active, false);
  t.notMatch((await admin.get('/smtp-servers/new')).body, 'id="departments-comptabilite"', 'not offered for new links');
  t.match((await admin.get(`/smtp-servers/${linked!.id}/edit`)).body, /id="departments-comptabilite"[^>]* checked> Finance et comptabilité <span class="badge badge-inactive">Désactivé/);
  const refused = await admin.post('/smtp-servers', { ...validServer, title: 'Nouveau', departments: ['comptabilite'] });
  t.equal(refused.statusCode, 422, 'a new link to a deactivated department is refused');
  t.match(text((await admin.get('/departments')).body), 'Finance et comptabilité Désactivé comptabilite Département désactivé : rien n’est envoyé');
  t.same(await app.repositories.departments.warnings().then((w) => w.map((r) => r.department.code)), ['achat', 'vente', 'production'], 'a deactivated department is not warned about');
  t.equal((await admin.post('/departments/comptabilite/active', { active: '1' })).statusCode, 303);
  t.equal((await app.stores.departments.findByCode('comptabilite'))!.active, true);

  const trail = await auditTrail(app);
  t.same(
    trail.filter((e) => e.action.startsWith('department.')).map((e) => [e.action, e.targetId, e.changes]),
    [
      ['department.create', 'comptabilite', null],
      ['department.rename', 'comptabilite', { name: ['Comptabilité', 'Finance et comptabilité'] }],
      ['department.deactivate', 'comptabilite', { active: [true, false] }],
      ['department.activate', 'comptabilite', { active: [false, true] }],
    ],
  );
  const audit = text((await admin.get('/audit')).body);
  t.match(audit, 'Département renommé Département #comptabilite — Finance et comptabilité Nom : Comptabilité → Finance et comptabilité');
});

t.test('a viewer reads the departments pages and changes nothing', async (t) => {
  const app = await buildTestApp(t);
  await usableServers(app, ['Alpha', 'Bravo']);
  const viewer = await viewerClient(app);
  const list = await viewer.get('/departments');
  t.equal(list.statusCode, 200);
  t.notMatch(list.body, 'action="/departments"', 'no add form');
  const page = await viewer.get('/departments/vente');
  t.equal(page.statusCode, 200);
  t.same(pageOrder(page.body), ['Alpha', 'Bravo']);
  t.notMatch(page.body, '/move', 'no move buttons');
  const alpha = (await app.stores.departments.candidates(await departmentId(app, 'vente')))[0]!;
  for (const [url, fields] of [
    ['/departments', { code: 'pirate', name: 'Pirate' }],
    ['/departments/vente', { name: 'Pirate' }],
    ['/departments/vente/active', { active: '0' }],
    [`/departments/vente/servers/${alpha.id}/move`, { direction: 'down' }],
  ] as const) {
    t.equal((await viewer.post(url, fields)).statusCode, 403, `${url} is refused`);
  }
  t.same(await orderOf(app, 'vente'), [['Alpha', 1], ['Bravo', 2]], 'unchanged');
  t.equal((await app.stores.departments.findByCode('vente'))!.name, 'Vente');
  t.equal((await viewer.get('/departments/marketing')).statusCode, 404);
});

t.test('each department lists its servers in order; move up / down rewrite it; a new server goes to the end, a lost one loses its place', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const [alpha, bravo, charlie] = await usableServers(app, ['Alpha', 'Bravo', 'Charlie']);
  t.same(await orderOf(app, 'vente'), [['Alpha', 1], ['Bravo', 2], ['Charlie', 3]], 'each placed at the end when created');

  const up = await admin.post(`/departments/vente/servers/${charlie!.id}/move`, { direction: 'up' });
  t.equal(up.statusCode, 303);
  t.equal(up.headers.location, '/departments/vente');
  const page = await admin.get('/departments/vente');
  t.match(text(page.body), '« Charlie » est monté d’un rang.');
  t.same(pageOrder(page.body), ['Alpha', 'Charlie', 'Bravo']);
  t.match(text(page.body), 'Alpha ventes@exemple.fr Principal : envoie maintenant');
  t.match(text(page.body), 'Charlie ventes@exemple.fr Secours n° 1');

  // htmx asks for the list alone.
  const htmx = await admin.post(`/departments/vente/servers/${alpha!.id}/move`, { direction: 'down' }, fragment);
  t.equal(htmx.statusCode, 200);
  t.notMatch(htmx.body, '<html');
  t.match(htmx.body, /^<div id="department-servers"/);
  t.match(String(htmx.headers.vary), 'HX-Target');
  t.same(pageOrder(htmx.body), ['Charlie', 'Alpha', 'Bravo']);
  const first = await admin.post(`/departments/vente/servers/${charlie!.id}/move`, { direction: 'up' });
  t.equal(first.statusCode, 303, 'already first: nothing to do, no error');
  t.same(await orderOf(app, 'vente'), [['Charlie', 1], ['Alpha', 2], ['Bravo', 3]]);
  t.equal((await admin.post(`/departments/achat/servers/${charlie!.id}/move`, { direction: 'up' })).statusCode, 404, 'Charlie does not serve Achat');
  t.equal((await admin.post(`/departments/vente/servers/${charlie!.id}/move`, { direction: 'sideways' })).statusCode, 404);

  // A new server goes to the end; a default one to the end of every department.
  const [delta] = await usableServers(app, ['Delta'], () => ({ usage: 'default', departments: [] }));
  t.same(await orderOf(app, 'vente'), [['Charlie', 1], ['Alpha', 2], ['Bravo', 3], ['Delta', 4]]);
  t.same(await orderOf(app, 'achat'), [['Delta', 1]]);

  // Bravo leaves Vente for Achat: out of Vente's order, at the end of Achat's; back to Vente: at its end.
  const form = (departments: string[], usage = 'custom') => ({ ...validServer, title: 'Bravo', password: '', usage, departments });
  t.equal((await admin.post(`/smtp-servers/${bravo!.id}`, form(['achat']))).statusCode, 303);
  t.same(await orderOf(app, 'vente'), [['Charlie', 1], ['Alpha', 2], ['Delta', 4]]);
  t.same(await orderOf(app, 'achat'), [['Delta', 1], ['Bravo', 2]]);
  t.equal((await admin.post(`/smtp-servers/${bravo!.id}`, form(['achat', 'vente']))).statusCode, 303);
  t.same(await orderOf(app, 'vente'), [['Charlie', 1], ['Alpha', 2], ['Delta', 4], ['Bravo', 5]]);
  t.same(await orderOf(app, 'achat'), [['Delta', 1], ['Bravo', 2]], 'kept its place where it stayed');

  // Delta, default, becomes custom for Production only.
  await admin.post(`/smtp-servers/${delta!.id}`, { ...validServer, title: 'Delta', password: '', usage: 'custom', departments: ['production'] });
  t.same(await orderOf(app, 'achat'), [['Bravo', 2]]);
  t.same(await orderOf(app, 'production'), [['Delta', 1]]);

  const moves = (await auditTrail(app, 'department.reorder')).map((e) => [e.targetId, e.summary, e.changes]);
  t.same(moves, [
    ['vente', 'Vente : Charlie', { position: [3, 2] }],
    ['vente', 'Vente : Alpha', { position: [1, 2] }],
  ], 'a move that changes nothing (Charlie already first) is not recorded');
});

t.test('servers placed before the order existed come after the placed ones, and a new server after them all', async (t) => {
  const app = await buildTestApp(t);
  const [old1, old2] = await usableServers(app, ['Ancien 1', 'Ancien 2']);
  const vente = await departmentId(app, 'vente');
  // As a database migrated from before the order: no placement at all.
  await app.stores.transaction((tx) => tx.departments.setOrder(vente, []));
  t.same(await orderOf(app, 'vente'), [['Ancien 1', null], ['Ancien 2', null]]);
  await usableServers(app, ['Nouveau']);
  t.same(await orderOf(app, 'vente'), [['Ancien 1', 1], ['Ancien 2', 2], ['Nouveau', 3]]);
  t.ok(old1 && old2);
});

t.test('two moves at once each apply to the order the other left', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const servers = await usableServers(app, ['S1', 'S2', 'S3', 'S4', 'S5', 'S6']);
  const ids = servers.map((s) => s.id);
  for (let round = 0; round < 5; round++) {
    const results = await Promise.all([
      admin.post(`/departments/vente/servers/${ids[0]}/move`, { direction: 'down' }),
      admin.post(`/departments/vente/servers/${ids[5]}/move`, { direction: 'up' }),
      admin.post(`/departments/vente/servers/${ids[2]}/move`, { direction: 'down' }),
    ]);
    t.same(results.map((r) => r.statusCode), [303, 303, 303], `round ${round}: every move answered`);
    const order = await orderOf(app, 'vente');
    t.same(order.map(([, position]) => position), [1, 2, 3, 4, 5, 6], `round ${round}: positions 1 to 6, no gap, no duplicate`);
    t.same(order.map(([title]) => title).sort(), ['S1', 'S2', 'S3', 'S4', 'S5', 'S6'], `round ${round}: every server once`);
  }
  const recorded = await auditTrail(app, 'department.reorder');
  t.ok(recorded.length >= 5, 'the moves are recorded');
  t.ok(recorded.every((e) => Math.abs((e.changes!.position![0] as number) - (e.changes!.position![1] as number)) === 1), 'each by one place');
});


t.test('servers created at once for the same departments are each saved and placed once at the end of each order', async (t) => {
  // On PostgreSQL each creation's link to a department holds a key-share lock on it: locking the department's order
  // FOR UPDATE after that made two creations wait for each other (a deadlock, one of them a 500, a second each).
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const titles = Array.from({ length: 8 }, (_, i) => `Simultané ${i + 1}`);
  const results = await Promise.all(titles.map((title) => admin.post('/smtp-servers', { ...validServer, title, departments: ['achat', 'vente'] })));
  t.same(results.map((r) => r.statusCode), titles.map(() => 303), 'every creation answered 303');
  for (const code of ['achat', 'vente']) {
    const order = await orderOf(app, code);
    t.same(order.map(([title]) => title).sort(), titles, `${code}: every server once`);
    t.same(order.map(([, position]) => position), titles.map((_, i) => i + 1), `${code}: positions 1 to 8, no gap, no duplicate`);
  }
});
t.test('warnings in plain words: no usable server, or no backup; on the server list and the departments pages', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const noServer = 'Le département Achat n’a aucun serveur utilisable : son courrier ne partirait pas.';
  let list = text((await admin.get('/smtp-servers')).body);
  t.match(list, noServer);
  t.match(list, 'Le département Vente n’a aucun serveur utilisable');

  const [alpha] = await usableServers(app, ['Alpha']);
  list = text((await admin.get('/smtp-servers')).body);
  t.match(list, 'Le département Vente n’a qu’un serveur utilisable (« Alpha ») et aucun secours');
  t.match(list, noServer);
  const [bravo] = await seedServers(app, 1, () => ({ title: 'Bravo' }));
  t.match(text((await admin.get('/departments/vente')).body), 'Bravo ventes@exemple.fr Ignoré : non confirmé', 'an unconfirmed server is skipped, and says why');
  await app.stores.servers.update(bravo!.id, { confirmationStatus: 'confirmed' });
  list = text((await admin.get('/smtp-servers')).body);
  t.notMatch(list, 'Le département Vente', 'Vente has a backup now');
  const departments = text((await admin.get('/departments')).body);
  t.match(departments, 'Vente vente Alpha Bravo');
  t.match(departments, 'Achat achat Aucun serveur utilisable — ' + noServer);

  await app.stores.servers.update(alpha!.id, { downUntil: new Date(Date.now() + 3_600_000) });
  const page = text((await admin.get('/departments/vente')).body);
  t.match(page, 'Alpha ventes@exemple.fr Ignoré : en panne');
  t.match(page, 'Bravo ventes@exemple.fr Principal : envoie maintenant');
  t.match(page, 'Le département Vente n’a qu’un serveur utilisable (« Bravo ») et aucun secours');
});

t.test('deactivating a server: a badge on the list, skipped by its departments, reactivated; audited', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const [alpha] = await usableServers(app, ['Alpha', 'Bravo']);
  const off = await admin.post(`/smtp-servers/${alpha!.id}/active`, { active: '0', back: '/smtp-servers?q=alpha' });
  t.equal(off.statusCode, 303, 'Bravo still serves Vente: no question asked');
  t.equal(off.headers.location, '/smtp-servers?q=alpha');
  const list = await admin.get('/smtp-servers');
  t.match(text(list.body), 'Le serveur « Alpha » a été désactivé.');
  t.match(list.body, /<a href=\/smtp-servers\/\d+\/edit>Alpha<\/a> <span class="badge badge-inactive">Désactivé<\/span>/);
  t.notMatch(list.body, `/smtp-servers/${alpha!.id}/active`, 'no row button: the 50 rows stay under 40 KB; its page has it');
  t.match(text((await admin.get('/departments/vente')).body), 'Alpha ventes@exemple.fr Ignoré : désactivé');
  t.match((await admin.get(`/smtp-servers/${alpha!.id}/edit`)).body, /<input type="hidden" name="active" value="1">/, 'its page offers to reactivate it');

  const on = await admin.post(`/smtp-servers/${alpha!.id}/active`, { active: '1', back: `/smtp-servers/${alpha!.id}/edit` });
  t.equal(on.headers.location, `/smtp-servers/${alpha!.id}/edit`);
  t.equal((await app.stores.servers.find(alpha!.id))!.active, true);
  t.same((await auditTrail(app)).filter((e) => /server\.(de)?activate/.test(e.action)).map((e) => [e.action, e.summary, e.changes]), [
    ['server.deactivate', 'Alpha', { active: [true, false] }],
    ['server.activate', 'Alpha', { active: [false, true] }],
  ]);
  t.equal((await admin.post('/smtp-servers/999/active', { active: '0' })).statusCode, 404);
});

t.test('deactivating the last usable server of a department asks first, naming it; refusing changes nothing', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const [alpha] = await usableServers(app, ['Alpha']);
  const asked = await admin.post(`/smtp-servers/${alpha!.id}/active`, { active: '0', back: '/smtp-servers' });
  t.equal(asked.statusCode, 200);
  t.match(text(asked.body), '« Alpha » est le dernier serveur utilisable de : Vente. Sans lui, leur courrier ne partira plus.');
  t.match(asked.body, '<input type="hidden" name="confirmLastUsable" value="on">');
  t.match(asked.body, '<a class="button" href="/smtp-servers">Annuler</a>', 'refusing is going back');
  t.equal((await app.stores.servers.find(alpha!.id))!.active, true, 'nothing changed yet');
  t.same(await auditTrail(app, 'server.deactivate'), []);

  const confirmed = await admin.post(`/smtp-servers/${alpha!.id}/active`, { active: '0', back: '/smtp-servers', confirmLastUsable: 'on' });
  t.equal(confirmed.statusCode, 303);
  t.equal((await app.stores.servers.find(alpha!.id))!.active, false);
  t.same((await auditTrail(app, 'server.lastUsableConfirmed')).map((e) => [e.summary, e.changes]), [['Alpha', { departments: [null, 'vente'] }]]);
  t.match(text((await admin.get('/audit')).body), 'Départements laissés sans serveur utilisable (confirmé) Serveur #' + alpha!.id + ' — Alpha Services : Vente');
});

t.test('two admins deactivating the two servers of a department at the same moment: one goes through, the other is refused', async (t) => {
  const app = await buildTestApp(t);
  const servers = app.repositories.smtpServers;
  const [alpha, bravo] = await usableServers(app, ['Alpha', 'Bravo']);
  const admin = { userId: null, name: 'Admin', ip: '192.0.2.1' };
  for (let round = 0; round < 3; round++) {
    // Both pages were drawn while the other server was still usable: neither asked for a confirmation.
    t.same(await servers.departmentsLeftWithout(alpha!.id), []);
    t.same(await servers.departmentsLeftWithout(bravo!.id), []);
    const outcomes = await Promise.allSettled([
      servers.setServerActive(alpha!.id, false, admin, { confirmedLastUsable: [] }),
      servers.setServerActive(bravo!.id, false, admin, { confirmedLastUsable: [] }),
    ]);
    t.same(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'], 'one deactivated, the other refused');
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    t.same((refused.reason as { departments: { code: string }[] }).departments.map((d) => d.code), ['vente'], 'naming the department');
    const states = [(await app.stores.servers.find(alpha!.id))!.active, (await app.stores.servers.find(bravo!.id))!.active];
    t.equal(states.filter(Boolean).length, 1, 'Vente keeps one usable server');
    for (const id of [alpha!.id, bravo!.id]) await app.stores.servers.update(id, { active: true });
  }
  t.same(await auditTrail(app, 'server.lastUsableConfirmed'), [], 'nobody confirmed anything');
});

t.test('deleting the last usable server of a department asks for a ticked confirmation naming it', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const [everyone] = await usableServers(app, ['Commun'], () => ({ usage: 'default', departments: [] }));
  const page = await admin.get(`/smtp-servers/${everyone!.id}/delete`);
  t.match(text(page.body), '« Commun » est le dernier serveur utilisable de : Achat, Vente, Production.');
  t.match(page.body, 'name="confirmLastUsable"');

  const refused = await admin.post(`/smtp-servers/${everyone!.id}/delete`);
  t.equal(refused.statusCode, 422);
  t.match(refused.body, /<p class="field-error" id="confirmLastUsable-error">Ce serveur est le dernier utilisable de : Achat, Vente, Production\./);
  t.match(refused.body, /id="confirmLastUsable" name="confirmLastUsable" value="on" aria-invalid="true"/);
  t.ok(await app.stores.servers.find(everyone!.id), 'not deleted');
  t.same(await auditTrail(app, 'server.delete'), []);

  const deleted = await admin.post(`/smtp-servers/${everyone!.id}/delete`, { confirmLastUsable: 'on' });
  t.equal(deleted.statusCode, 303);
  t.equal(await app.stores.servers.find(everyone!.id), null);
  t.same((await auditTrail(app, 'server.lastUsableConfirmed')).map((e) => e.changes), [{ departments: [null, 'achat,vente,production'] }]);

  // A server that is not the last usable one is deleted without the question.
  const [a] = await usableServers(app, ['A', 'B']);
  t.notMatch((await admin.get(`/smtp-servers/${a!.id}/delete`)).body, 'confirmLastUsable');
  t.equal((await admin.post(`/smtp-servers/${a!.id}/delete`)).statusCode, 303);
});

t.test('changing the usage of the last usable server of a department asks in the form, naming it', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const [alpha] = await usableServers(app, ['Alpha'], () => ({ departments: ['vente', 'achat'] }));
  const form = { ...validServer, title: 'Alpha', password: '', departments: ['achat'] };
  const asked = await admin.post(`/smtp-servers/${alpha!.id}`, form);
  t.equal(asked.statusCode, 422);
  t.match(asked.body, /<p class="field-error" id="confirmLastUsable-error">Ce serveur est le dernier utilisable de : Vente\./);
  t.match(asked.body, /id="confirmLastUsable" name="confirmLastUsable" value="on" aria-invalid="true"[^>]*> Je confirme : Vente n’aura plus aucun serveur utilisable\./);
  t.match(asked.body, '<a href="#confirmLastUsable">', 'the summary links to the box');
  t.match(asked.body, /id="departments-achat" name="departments" value="achat" checked/, 'what was typed is kept');
  t.same((await app.stores.servers.find(alpha!.id))!.departments.map((d) => d.code), ['achat', 'vente'], 'nothing changed');

  const htmx = await admin.post(`/smtp-servers/${alpha!.id}`, form, { 'hx-request': 'true', 'hx-target': 'server-form' });
  t.equal(htmx.statusCode, 422, 'with htmx, the same question in the form alone');
  t.match(htmx.body, /^<form id="server-form"/);
  t.match(htmx.body, 'name="confirmLastUsable"');

  const confirmed = await admin.post(`/smtp-servers/${alpha!.id}`, { ...form, confirmLastUsable: 'on' });
  t.equal(confirmed.statusCode, 303);
  t.same((await app.stores.servers.find(alpha!.id))!.departments.map((d) => d.code), ['achat']);
  t.same((await auditTrail(app, 'server.lastUsableConfirmed')).map((e) => e.changes), [{ departments: [null, 'vente'] }]);

  // Default usage keeps serving everything: nothing to ask.
  const toDefault = await admin.post(`/smtp-servers/${alpha!.id}`, { ...form, usage: 'default', departments: [] });
  t.equal(toDefault.statusCode, 303);
});

onPostgres(t, 'two instances on one PostgreSQL database: what one changes in the departments, the other shows at once', async (t, url) => {
  const first = await buildTestApp(t, { RELAIS_DB: url });
  const second = await buildTestApp(t, { RELAIS_DB: url });
  await seedServers(first!, 1, () => ({ title: 'Lié à Vente', usage: 'custom', departments: ['vente'] }));
  const one = await adminClient(first!);
  const other = new Client(second!);
  await signIn(other, (await createAccount(second!, 'admin', { email: 'autre@relais.test' })).email);
  // The other instance reads its lists first, as it would have before the change.
  t.match(text((await other.get('/smtp-servers')).body), 'Lié à Vente');
  t.notMatch((await other.get('/smtp-servers/new')).body, 'departments-export');

  t.equal((await one.post('/departments', { code: 'export', name: 'Export' })).statusCode, 303);
  t.equal((await one.post('/departments/vente', { name: 'Ventes France' })).statusCode, 303);
  t.match((await other.get('/smtp-servers/new')).body, 'id="departments-export"', 'the new department is offered there');
  const list = text((await other.get('/smtp-servers')).body);
  t.match(list, 'Ventes France', 'the renamed department in the Usage column');
  t.same((await second!.repositories.smtpServers.listServers({ q: 'ventes france' })).rows.map((s) => s.title), ['Lié à Vente'], 'and in the search');
  await one.post('/departments/export/active', { active: '0' });
  t.notMatch((await other.get('/smtp-servers/new')).body, 'departments-export', 'deactivated: no longer offered there either');
});
