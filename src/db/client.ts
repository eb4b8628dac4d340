import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DatabaseHandle {
  sqlite: Database.Database;
  db: Db;
  file: string;
  /** Moves with every write to the servers, their departments or the users (see migration 0003), from any process. */
  dataVersion(): number;
  /** Whether a write would land now: null when it would, else why not. Writes nothing (the probe is rolled back). */
  checkWrites(): StoreWriteFailure | null;
  close(): void;
}

/** Why a write did not land, in terms a form can tell the user; each store maps its own error codes to these. */
export type StoreWriteFailure = 'diskFull' | 'other';

/** A write the store refused for reasons of its own (disk full, read-only file, I/O error), not because of the data. */
export class StoreWriteError extends Error {
  readonly code = 'RELAIS_STORE_WRITE';
  readonly statusCode = 503;
  constructor(
    readonly reason: StoreWriteFailure,
    readonly cause: unknown,
  ) {
    super(reason === 'diskFull' ? 'the database could not grow: disk (or database size limit) full' : `the database refused a write: ${String((cause as Error)?.message ?? cause)}`);
  }
}

const sqliteCodeOf = (err: unknown): string | undefined => {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return e.code;
  }
  return undefined;
};

/** The StoreWriteError an error means, or null when it is not the store failing (a bug, a constraint the code handles). */
export function storeWriteErrorOf(err: unknown): StoreWriteError | null {
  if (err instanceof StoreWriteError) return err;
  const code = sqliteCodeOf(err);
  if (!code) return null;
  if (code === 'SQLITE_FULL' || (code === 'SQLITE_IOERR_WRITE' && /disk|space/i.test(String((err as Error).message)))) return new StoreWriteError('diskFull', err);
  if (/^SQLITE_(READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL|CORRUPT|NOTADB|PERM)/.test(code)) return new StoreWriteError('other', err);
  return null;
}

/** The database file could not be opened or migrated at start; says which file and why in one line. */
export class DatabaseOpenError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot open the database ${file}: ${reason}`);
  }
}

function openFailureReason(err: unknown, file: string): string {
  const e = err as NodeJS.ErrnoException & { code?: string };
  const dir = path.dirname(file);
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${e.path ?? dir}`;
    case 'EROFS':
    case 'SQLITE_READONLY':
    case 'SQLITE_READONLY_DIRECTORY':
      return `the file or its folder is read-only (${e.message})`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${e.path ?? dir} is not a folder`;
    case 'ENOSPC':
    case 'SQLITE_FULL':
      return 'no space left on the disk';
    case 'SQLITE_CANTOPEN':
      return fs.existsSync(file) && fs.statSync(file).isDirectory() ? 'it is a folder, not a file' : `SQLite cannot open it (${e.message}); check that ${dir} exists and is writable`;
    case 'SQLITE_NOTADB':
      return 'the file is not a SQLite database';
    default:
      return e.message ?? String(err);
  }
}

// drizzle wraps the driver's error in its own; the reason is in the driver's.
function sqliteCause(err: unknown): unknown {
  const cause = (err as { cause?: unknown })?.cause;
  return cause && typeof (cause as { code?: unknown }).code === 'string' ? cause : err;
}

/** Below this much room (on the disk, or under SQLite's page limit) the next writes are about to fail. */
const minimumFreeBytes = 1024 * 1024;

/** Takes the write lock and makes a tiny write, rolled back: throws what a real write would. */
function probeWrite(sqlite: Database.Database): void {
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    sqlite.prepare('UPDATE cache_versions SET version = version WHERE id = 1').run();
  } finally {
    sqlite.exec('ROLLBACK');
  }
}

function checkWrites(sqlite: Database.Database, file: string): StoreWriteFailure | null {
  try {
    probeWrite(sqlite);
  } catch (err) {
    return storeWriteErrorOf(err)?.reason ?? 'other';
  }
  // A rolled-back write never needs new pages: whether there is room for them is asked separately.
  const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
  const pages = sqlite.pragma('page_count', { simple: true }) as number;
  const maxPages = sqlite.pragma('max_page_count', { simple: true }) as number;
  const freePages = sqlite.pragma('freelist_count', { simple: true }) as number;
  if ((maxPages - pages + freePages) * pageSize < minimumFreeBytes) return 'diskFull';
  const disk = fs.statfsSync(path.dirname(file));
  if (disk.bavail * disk.bsize < minimumFreeBytes) return 'diskFull';
  return null;
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
  const readVersion = sqlite.prepare('SELECT version FROM cache_versions WHERE id = 1').pluck();
  return {
    sqlite,
    db,
    file,
    dataVersion: () => readVersion.get() as number,
    checkWrites: () => checkWrites(sqlite, file),
    close() {
      if (sqlite.open) sqlite.close();
    },
  };
}
