import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { storeWriteErrorOf } from '../failures.js';
import type { StoreHealth } from '../stores.js';

/** Below this much room (on the disk, or under SQLite's page limit) the next writes are about to fail. */
const minimumFreeBytes = 1024 * 1024;

/** Takes the write lock and makes a tiny write, rolled back: throws what a real write would. */
export function probeWrite(sqlite: Database.Database): void {
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    // Rewriting the header's user_version with its own value is a real write to the file, of any schema.
    const version = sqlite.pragma('user_version', { simple: true }) as number;
    sqlite.pragma(`user_version = ${Number(version)}`);
  } finally {
    sqlite.exec('ROLLBACK');
  }
}

/** Whether the file answers and a write would land now; writes nothing. Run it under the stores' write lock. */
export function sqliteHealth(sqlite: Database.Database, file: string): StoreHealth {
  try {
    sqlite.prepare('SELECT 1').get();
  } catch {
    return 'unreachable';
  }
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
    return 'ok';
  } catch (err) {
    // The folder gone, the connection closed: whatever it is, a write would not land.
    return storeWriteErrorOf(err)?.reason === 'diskFull' ? 'diskFull' : 'writeFailed';
  }
}
