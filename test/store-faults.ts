import type Database from 'better-sqlite3';

/**
 * Real SQLite failures on a running app's own connection: every page up to its limit used (what a full disk gives:
 * SQLITE_FULL on the next write that needs a page), undone by makeRoom.
 */
export function fillDatabase(sqlite: Database.Database): void {
  sqlite.pragma(`max_page_count = ${(sqlite.pragma('page_count', { simple: true }) as number) + 16}`);
  sqlite.exec('CREATE TABLE IF NOT EXISTS test_filler (b BLOB)');
  const fill = sqlite.prepare('INSERT INTO test_filler VALUES (zeroblob(?))');
  for (const size of [4000, 500, 50]) {
    try {
      for (;;) fill.run(size);
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_FULL') throw err;
    }
  }
}

export function makeRoom(sqlite: Database.Database): void {
  sqlite.pragma('max_page_count = 1073741823');
}

/** A signature long enough to need pages of its own: a full database cannot take it in the pages it has. */
export const longSignature = `<p>${'Cordialement, l’équipe Vente. '.repeat(600)}</p>`;
