// SQLite's WAL is copied back into the database file by a thread of its own, not inside a COMMIT on the event loop.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../src/db/sqlite/client.js';

t.test('the connection leaves its checkpoints to the thread, which copies the WAL back into the file', async (t) => {
  const file = path.join(t.testdir(), 'relais.sqlite');
  const handle = openDatabase(file);
  t.teardown(() => handle.close());
  t.equal(handle.sqlite.pragma('wal_autocheckpoint', { simple: true }), 4000, 'no checkpoint inside a COMMIT before 4,000 pages');
  const before = fs.statSync(file).size;
  handle.sqlite.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = handle.sqlite.prepare('INSERT INTO filler (body) VALUES (?)');
  for (let i = 0; i < 50; i++) handle.sqlite.transaction(() => { for (let j = 0; j < 40; j++) insert.run('x'.repeat(1000)); })();
  const deadline = Date.now() + 10_000;
  while (fs.statSync(file).size < before + 2_000_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(fs.statSync(file).size >= before + 2_000_000, 'the 2 MB written are in the database file');
  t.equal((handle.sqlite.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 2000);
});

t.test('under writes that never stop, the WAL stays bounded: it starts over past 4,000 pages', async (t) => {
  const file = path.join(t.testdir(), 'relais.sqlite');
  const handle = openDatabase(file);
  t.teardown(() => handle.close());
  handle.sqlite.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = handle.sqlite.prepare('INSERT INTO filler (body) VALUES (?)');
  let largest = 0;
  // 60 MB in commits of 4 KB, back to back: the thread's checkpoint never finds the WAL wholly copied when one begins.
  for (let i = 0; i < 15_000; i++) {
    handle.sqlite.transaction(() => insert.run('x'.repeat(4000)))();
    if (i % 500 === 0) {
      largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
  t.ok(fs.statSync(file).size > 50_000_000, 'the rows reached the database file');
  t.ok(largest < 40_000_000, `the WAL at most ${(largest / 1e6).toFixed(1)} MB, not the 60 MB written`);
});

t.test('closed, the file holds everything and no WAL is left behind', async (t) => {
  const file = path.join(t.testdir(), 'relais.sqlite');
  const handle = openDatabase(file);
  handle.sqlite.exec("CREATE TABLE note (body TEXT); INSERT INTO note VALUES ('gardé')");
  handle.close();
  t.ok(!fs.existsSync(`${file}-wal`) || fs.statSync(`${file}-wal`).size === 0, 'the WAL copied back and emptied by the close itself');
  // The thread's connection goes with its thread: the last one to close removes the WAL.
  const deadline = Date.now() + 5_000;
  while (fs.existsSync(`${file}-wal`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.notOk(fs.existsSync(`${file}-wal`), 'no -wal file');
  const again = openDatabase(file);
  t.teardown(() => again.close());
  t.same(again.sqlite.prepare('SELECT body FROM note').all(), [{ body: 'gardé' }]);
});
