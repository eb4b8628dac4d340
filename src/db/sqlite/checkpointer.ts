import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const checkpointEveryMs = 250;
// SQLite's default is 1,000 pages. The WAL starts over from its beginning only at a write that finds it wholly copied
// back: under steady writes the thread's checkpoint never does, so past this many pages (16 MB) the connection
// checkpoints itself again, the rest of the copying already done.
const backstopPages = 4000;

// Plain JavaScript, evaluated: the thread needs no loader, run from the sources or built. A PASSIVE checkpoint waits
// for nobody and holds up no writer; a thread whose checkpoint fails says so and stops.
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    clearInterval(timer);
    parentPort.postMessage(String((err && err.message) || err));
    db.close();
  }
}, workerData.everyMs);
`;

/**
 * The WAL's pages copied back into the database file on a thread of its own: SQLite's own checkpoint runs inside the
 * COMMIT that crosses 1,000 pages, on the event loop, and with its disk flushes held the API's answers up to a quarter
 * of a second. Should the thread not start or stop, the connection checkpoints as SQLite does by default. Returns its
 * stop.
 */
export function checkpointInBackground(sqlite: Database.Database, file: string): () => void {
  let worker: Worker;
  try {
    worker = new Worker(threadSource, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file, everyMs: checkpointEveryMs },
    });
  } catch {
    return () => {};
  }
  // The database's users keep the process alive, never its checkpoints.
  worker.unref();
  const checkpointHere = () => {
    try {
      if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
    } catch {
      // The connection is busy with a statement (an iteration): the backstop still bounds the WAL.
    }
  };
  worker.once('message', checkpointHere);
  worker.once('error', checkpointHere);
  worker.once('exit', checkpointHere);
  sqlite.pragma(`wal_autocheckpoint = ${backstopPages}`);
  return () => {
    worker.removeAllListeners();
    // An error the thread raised before it was told to stop has nobody else to hear it.
    worker.on('error', () => {});
    void worker.terminate();
  };
}
