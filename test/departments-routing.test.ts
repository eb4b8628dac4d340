import t, { type Test } from 'tap';
import { databaseFrom } from '../src/config.js';
import { openStores } from '../src/db/open.js';
import type { Stores } from '../src/db/stores.js';
import { allRoutes, departmentWarnings, routeHeads, routeOf, serversFor } from '../src/departments/routing.js';
import { forEachStore, type TestStore } from './stores.js';

async function storesFor(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return stores;
}

async function addServer(stores: Stores, title: string, usage: 'default' | 'custom', departmentCodes: string[] = []) {
  const id = await stores.servers.insert({
    title,
    titleKey: title.toLowerCase(),
    titleSort: title.toLowerCase(),
    host: `${title.toLowerCase()}.example.com`,
    port: 587,
    security: 'starttls',
    authentication: 'none',
    email: `${title.toLowerCase()}@example.com`,
    senderName: title,
    username: '',
    usage,
    verifyCertificate: true,
    signature: '',
    searchText: title.toLowerCase(),
    passwordCiphertext: null,
  });
  const all = await stores.departments.list();
  await stores.servers.setDepartments(id, all.filter((d) => departmentCodes.includes(d.code)).map((d) => d.id));
  await stores.servers.update(id, { confirmationStatus: 'confirmed' });
  return id;
}

await forEachStore(t, 'a department is served by its custom servers and every default one, in its order, skipping the unusable', async (t, store) => {
  const stores = await storesFor(t, store);
  const venteOnly = await addServer(stores, 'Vente', 'custom', ['vente']);
  const everyone = await addServer(stores, 'Commun', 'default');
  const achatOnly = await addServer(stores, 'Achat', 'custom', ['achat']);
  const backup = await addServer(stores, 'Secours', 'custom', ['vente', 'production']);

  t.same((await serversFor(stores.departments, 'vente')).map((s) => s.id), [venteOnly, everyone, backup], 'never placed: by id');
  t.same((await serversFor(stores.departments, 'achat')).map((s) => s.id), [everyone, achatOnly]);

  const vente = (await stores.departments.findByCode('vente'))!;
  await stores.transaction((tx) => tx.departments.setOrder(vente.id, [backup, venteOnly]));
  t.same((await serversFor(stores.departments, 'vente')).map((s) => s.id), [backup, venteOnly, everyone], 'placed first, in their order; the unplaced after');

  await stores.servers.update(backup, { active: false });
  await stores.servers.update(venteOnly, { confirmationStatus: 'pending' });
  await stores.servers.update(everyone, { downUntil: new Date(Date.now() + 60_000) });
  const route = (await routeOf(stores.departments, 'vente'))!;
  t.same(route.servers.map((s) => [s.title, s.skip]), [['Secours', 'inactive'], ['Vente', 'unconfirmed'], ['Commun', 'down']]);
  t.same(route.usable, [], 'nothing usable');
  t.same((await serversFor(stores.departments, 'vente', new Date(Date.now() + 120_000))).map((s) => s.id), [everyone], 'the cool-down over, the default server is back');

  t.equal(await routeOf(stores.departments, 'marketing'), null, 'an unknown code');
  t.same(await serversFor(stores.departments, 'marketing'), []);
});

await forEachStore(t, 'a deleted server leaves the department orders; an added default server serves every department', async (t, store) => {
  const stores = await storesFor(t, store);
  const first = await addServer(stores, 'Premier', 'custom', ['production']);
  const second = await addServer(stores, 'Second', 'custom', ['production']);
  const production = (await stores.departments.findByCode('production'))!;
  await stores.transaction((tx) => tx.departments.setOrder(production.id, [second, first]));
  await stores.servers.delete(second);
  t.same((await serversFor(stores.departments, 'production')).map((s) => s.id), [first]);
  const later = await addServer(stores, 'Général', 'default');
  for (const code of ['achat', 'vente', 'production']) t.ok((await serversFor(stores.departments, code)).some((s) => s.id === later), `${code} is served by the default server`);
});

await forEachStore(t, 'the warnings read the first usable servers with the same rule and order as the full route', async (t, store) => {
  const stores = await storesFor(t, store);
  t.same((await stores.departments.activeWithUsable(new Date(), 2)).map(({ department, usable }) => [department.code, usable]), [['achat', []], ['vente', []], ['production', []]], 'no server yet: every department, none usable');
  const now = new Date();
  const ids: number[] = [];
  // Twelve servers in every state, custom and default, some placed: the short query must agree with routing.
  for (let i = 0; i < 12; i++) ids.push(await addServer(stores, `S${i}`, i % 3 === 0 ? 'default' : 'custom', i % 2 ? ['vente'] : ['vente', 'achat']));
  await stores.servers.update(ids[0]!, { active: false });
  await stores.servers.update(ids[4]!, { confirmationStatus: 'pending' });
  await stores.servers.update(ids[6]!, { downUntil: new Date(now.getTime() + 60_000) });
  await stores.servers.update(ids[7]!, { downUntil: new Date(now.getTime() - 60_000) });
  const vente = (await stores.departments.findByCode('vente'))!;
  await stores.transaction((tx) => tx.departments.setOrder(vente.id, [ids[9]!, ids[6]!, ids[2]!]));
  for (const code of ['vente', 'achat', 'production']) {
    const department = (await stores.departments.findByCode(code))!;
    const usable = (await serversFor(stores.departments, code, now)).map((s) => s.id);
    for (const limit of [1, 2, 5]) {
      t.same((await stores.departments.usableCandidates(department.id, now, limit)).map((s) => s.id), usable.slice(0, limit), `${code}, ${limit} at most`);
    }
  }
  t.same((await stores.departments.usableCandidates(vente.id, now, 3)).map((s) => s.id), [ids[9], ids[2], ids[1]], 'placed first in their order, the one « en panne » skipped, then by id');
  // The lists' warnings read every active department at once: each answer as the department's own walk gives it.
  for (const limit of [1, 2, 5]) {
    const active = (await stores.departments.list()).filter((d) => d.active);
    const alone = await Promise.all(active.map(async (department) => ({ department, usable: await stores.departments.usableCandidates(department.id, now, limit) })));
    t.same(await stores.departments.activeWithUsable(now, limit), alone, `every active department at once, ${limit} at most, in display order`);
  }
  const achat = (await stores.departments.findByCode('achat'))!;
  await stores.departments.update(achat.id, { active: false });
  t.same((await stores.departments.activeWithUsable(now, 2)).map(({ department }) => department.code), ['vente', 'production'], 'a deactivated department is left out');
  await stores.departments.update(achat.id, { active: true });

  // The dashboard's heads: the start of each full route, its length, and the sending server kept in view.
  const routes = await allRoutes(stores.departments, now);
  for (const limit of [1, 3, 20]) {
    const heads = await routeHeads(stores.departments, limit, now);
    t.same(heads.map((h) => h.department.code), routes.map((r) => r.department.code));
    heads.forEach((head, i) => {
      const route = routes[i]!;
      const expected = route.servers.slice(0, limit);
      if (route.usable[0] && !expected.some((s) => s.id === route.usable[0]!.id)) expected[expected.length - 1] = route.usable[0];
      t.same(head.servers.map((s) => [s.id, s.skip]), expected.map((s) => [s.id, s.skip]), `${route.department.code}: its first ${limit}`);
      t.equal(head.total, route.servers.length);
      t.same(head.usable.map((s) => s.id), route.usable.slice(0, 2).map((s) => s.id));
    });
  }
  const venteHead = (await routeHeads(stores.departments, 1, now)).find((h) => h.department.code === 'vente')!;
  t.same(venteHead.servers.map((s) => s.id), [ids[9]], 'one shown: the sending one');

  // Every server of Production deactivated but one: « no backup »; then none: « no server ».
  const production = (await stores.departments.findByCode('production'))!;
  const producing = (await serversFor(stores.departments, 'production', now)).map((s) => s.id);
  for (const id of producing.slice(1)) await stores.servers.update(id, { active: false });
  let warnings = await departmentWarnings(stores.departments, now);
  t.same(warnings.map((w) => [w.department.code, w.warning, w.usable.map((s) => s.id)]), [['production', 'noBackup', [producing[0]]]]);
  await stores.servers.update(producing[0]!, { confirmationStatus: 'pending' });
  warnings = await departmentWarnings(stores.departments, now);
  t.same(warnings.map((w) => [w.department.code, w.warning]), [['production', 'noServer']]);
  await stores.departments.update(production.id, { active: false });
  t.same(await departmentWarnings(stores.departments, now), [], 'a deactivated department warns of nothing');
});
