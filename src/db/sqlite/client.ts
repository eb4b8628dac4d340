import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseOpenError } from '../failures.js';
import { checkpointInBackground } from './checkpointer.js';
import { openFailureReason, sqliteCause } from './failures.js';
import * as schema from './schema.js';
import { probeWrite } from './health.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DatabaseHandle {
  sqlite: Database.Database;
  db: Db;
  file: string;
  close(): void;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const migrationsFolder = path.join(projectRoot, 'migrations', 'sqlite');

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
  const stopCheckpoints = checkpointInBackground(sqlite, file);
  return {
    sqlite,
    db,
    file,
    close() {
      stopCheckpoints();
      if (!sqlite.open) return;
      // The thread's connection may outlive this one: the file is made whole here, not when that one closes.
      try {
        sqlite.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A file that cannot take it (read-only, full, gone) closes all the same: the WAL is read again at the next open.
      }
      sqlite.close();
    },
  };
}
