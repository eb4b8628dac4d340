import fs from 'node:fs';
import path from 'node:path';
import { recogniseWriteErrors, StoreWriteError } from '../failures.js';

// How SQLite's failures are told apart: its error codes, for the forms, /healthz and the start-up line.

const sqliteCodeOf = (err: unknown): string | undefined => {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return e.code;
  }
  return undefined;
};

function sqliteWriteErrorOf(err: unknown): StoreWriteError | null {
  const code = sqliteCodeOf(err);
  if (!code) return null;
  if (code === 'SQLITE_FULL' || (code === 'SQLITE_IOERR_WRITE' && /disk|space/i.test(String((err as Error).message)))) return new StoreWriteError('diskFull', err);
  if (/^SQLITE_(READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL|CORRUPT|NOTADB|PERM)/.test(code)) return new StoreWriteError('other', err);
  return null;
}

recogniseWriteErrors(sqliteWriteErrorOf);

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
