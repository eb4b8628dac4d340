import fs from 'node:fs';
import path from 'node:path';

// How the SQLite store's failures are told apart and named, for the forms, /healthz and the start-up line.

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

/** The database does not answer (PostgreSQL down or out of reach): nothing was read or written; it may come back. */
export class StoreUnavailableError extends Error {
  readonly code = 'RELAIS_STORE_UNAVAILABLE';
  readonly statusCode = 503;
  constructor(readonly cause: unknown) {
    super(`the database does not answer: ${String((cause as Error)?.message ?? cause)}`);
  }
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

export function openFailureReason(err: unknown, file: string): string {
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
export function sqliteCause(err: unknown): unknown {
  const cause = (err as { cause?: unknown })?.cause;
  return cause && typeof (cause as { code?: unknown }).code === 'string' ? cause : err;
}
