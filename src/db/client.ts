import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseOpenError, openFailureReason, sqliteCause, storeWriteErrorOf, type StoreWriteFailure } from './failures.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DatabaseHandle {
  sqlite: Database.Database;
  db: Db;
  file: string;
  /** Whether a write would land now: null when it would, else why not. Writes nothing (the probe is rolled back). */
  checkWrites(): StoreWriteFailure | null;
  close(): void;
}

/** Below this much room (on the disk, or under SQLite's page limit) the next writes are about to fail. */
const minimumFreeBytes = 1024 * 1024;

/** Takes the write lock and makes a tiny write, rolled back: throws what a real write would. */
function probeWrite(sqlite: Database.Database): void {
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    // Rewriting the header's user_version with its own value is a real write to the file, of any schema.
    const version = sqlite.pragma('user_version', { simple: true }) as number;
    sqlite.pragma(`user_version = ${Number(version)}`);
  } finally {
    sqlite.exec('ROLLBACK');
  }
}

function checkWrites(sqlite: Database.Database, file: string): StoreWriteFailure | null {
  try {
    probeWrite(sqlite);
    // A rolled-back write never needs new pages: whether there is room for them is asked separately.
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    const pages = sqlite.pragma('page_count', { simple: true }) as number;
    const maxPages = sqlite.pragma('max_page_count', { simple: true }) as number;
    const freePages = sqlite.pragma('freelist_count', { simple: true }) as number;
    if ((maxPages - pages + freePages) * pageSize < minimumFreeBytes) return 'diskFull';
    const disk = fs.statfsSync(path.dirname(file));
    if (disk.bavail * disk.bsize < minimumFreeBytes) return 'diskFull';
    return null;
  } catch (err) {
    // The folder gone, the connection closed: whatever it is, a write would not land.
    return storeWriteErrorOf(err)?.reason ?? 'other';
  }
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const migrationsFolder = path.join(projectRoot, 'migrations');

export function openDatabase(file: string): DatabaseHandle {
  let sqlite: Database.Database | undefined;
  let db: Db;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    db = drizzle(sqlite, { schema });
    migrate(db, { migrationsFolder });
    // A read-only file opens, and migrates when it is up to date: only a write tells.
    probeWrite(sqlite);
  } catch (err) {
    if (sqlite?.open) sqlite.close();
    throw new DatabaseOpenError(file, openFailureReason(sqliteCause(err), file));
  }
  return {
    sqlite,
    db,
    file,
    checkWrites: () => checkWrites(sqlite, file),
    close() {
      if (sqlite.open) sqlite.close();
    },
  };
}
