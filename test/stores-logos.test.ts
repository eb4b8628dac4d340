import t, { type Test } from 'tap';
import { databaseFrom } from '../src/config.js';
import { openStores } from '../src/db/open.js';
import { applyLogoChange } from '../src/signature/repository.js';
import { serverRows } from './server-rows.js';
import { gif, pngOf } from './signature-images.js';
import { forEachStore, type TestStore } from './stores.js';

async function storesFor(t: Test, store: TestStore) {
  const { stores } = await openStores(databaseFrom(store.relaisDb));
  t.teardown(() => stores.close());
  return stores;
}

await forEachStore(t, 'logos: put, replace, describe without bytes, remove, gone with their server', async (t, store) => {
  const stores = await storesFor(t, store);
  const rows = await serverRows(t, store, stores);
  const id = await rows.insert('Vente', 'ventes@exemple.fr');
  const other = await rows.insert('Achat', 'achats@exemple.fr');
  t.equal(await stores.logos.find(id), null);

  const png = pngOf(120, 40);
  const at = new Date(Date.UTC(2026, 0, 2, 9, 30, 15, 123));
  await stores.logos.put({ serverId: id, contentType: 'image/png', bytes: png, width: 120, height: 40, size: png.length, updatedAt: at });
  const found = await stores.logos.find(id);
  t.ok(found && Buffer.isBuffer(found.bytes) && found.bytes.equals(png), 'the bytes come back as they went in');
  t.same({ ...found, bytes: undefined }, { serverId: id, contentType: 'image/png', bytes: undefined, width: 120, height: 40, size: png.length, updatedAt: at });
  t.same(await stores.logos.describe(id), { serverId: id, contentType: 'image/png', width: 120, height: 40, size: png.length, updatedAt: at }, 'described without its bytes');

  await stores.logos.put({ serverId: id, contentType: 'image/gif', bytes: gif, width: 1, height: 1, size: gif.length, updatedAt: new Date(at.getTime() + 1000) });
  t.equal((await stores.logos.find(id))?.contentType, 'image/gif', 'replaced');
  t.ok((await stores.logos.find(id))?.bytes.equals(gif));

  // A copy inside a transaction that fails leaves nothing.
  await t.rejects(
    stores.transaction(async (tx) => {
      await applyLogoChange(tx, other, { kind: 'copy', fromServerId: id });
      t.ok(await tx.logos.find(other), 'copied inside the transaction');
      throw new Error('rolled back');
    }),
  );
  t.equal(await stores.logos.find(other), null, 'the rolled-back copy left nothing');
  t.same(await applyLogoChange(stores, other, { kind: 'copy', fromServerId: id }), ['', `image/gif 1×1, ${gif.length} B`]);
  t.same(await applyLogoChange(stores, other, { kind: 'remove' }), [`image/gif 1×1, ${gif.length} B`, '']);
  t.equal(await applyLogoChange(stores, other, { kind: 'remove' }), null, 'nothing to remove, nothing to record');

  t.equal(await stores.logos.remove(id), true);
  t.equal(await stores.logos.remove(id), false);
  await stores.logos.put({ serverId: id, contentType: 'image/png', bytes: png, width: 120, height: 40, size: png.length, updatedAt: at });
  t.equal(await stores.servers.delete(id), true);
  t.equal(await stores.logos.find(id), null, 'deleting the server deletes its logo');
});
