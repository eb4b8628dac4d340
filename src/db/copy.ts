import fs from 'node:fs';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { openDatabase, type DatabaseHandle } from './sqlite/client.js';
import { openPostgres, redactUrl } from './postgres/client.js';
import * as pgSchema from './postgres/schema.js';

/** Tables the migrations fill (the departments): replaced by the source's rows rather than counted as data. */
const seededByMigrations = new Set(['departments']);

export interface CopiedTable {
  table: string;
  rows: number;
}

/** A copy that must not start: a missing source, a target that already holds data. Nothing was written. */
export class CopyRefusedError extends Error {
  override name = 'CopyRefusedError';
}

/** Every table of the PostgreSQL schema, parents before the tables whose foreign keys point at them. */
export function tablesInCopyOrder(): PgTable[] {
  const tables = (Object.values(pgSchema) as unknown[]).filter((value): value is PgTable => is(value, PgTable));
  const ordered: PgTable[] = [];
  const visit = (table: PgTable, path: Set<PgTable>) => {
    if (ordered.includes(table) || path.has(table)) return;
    path.add(table);
    for (const fk of getTableConfig(table).foreignKeys) visit(fk.reference().foreignTable as PgTable, path);
    ordered.push(table);
  };
  for (const table of tables) visit(table, new Set());
  return ordered;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A SQLite value as PostgreSQL's column expects it: 0/1 to booleans, timestamps (sometimes REAL in SQLite) to whole milliseconds. */
function converterFor(sqlType: string): (value: unknown) => unknown {
  if (sqlType === 'boolean') return (value) => (value === null ? null : Boolean(value));
  if (sqlType === 'bigint') return (value) => (value === null ? null : Math.round(Number(value)));
  return (value) => value;
}

/** Inserts rows (arrays in `columns` order) in batches that stay under PostgreSQL's 65,535 parameters. */
export async function insertRows(client: pg.ClientBase, table: string, columns: string[], rows: Iterable<unknown[]>): Promise<number> {
  const perBatch = Math.max(1, Math.floor(60_000 / columns.length));
  const head = `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) VALUES `;
  let batch: unknown[][] = [];
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const tuples = batch.map((_, r) => `(${columns.map((__, c) => `$${r * columns.length + c + 1}`).join(', ')})`);
    await client.query(head + tuples.join(', '), batch.flat());
    count += batch.length;
    batch = [];
  };
  for (const row of rows) {
    batch.push(row);
    if (batch.length >= perBatch) await flush();
  }
  await flush();
  return count;
}

/**
 * Moves every identity sequence past the highest id its table holds, or past `given` (the highest id ever given,
 * deleted rows included), so the next insert gets an id no row or audit entry ever named.
 */
export async function resetIdentitySequences(client: pg.ClientBase, given: ReadonlyMap<string, number> = new Map()): Promise<void> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'`,
  );
  for (const { table_name: table, column_name: column } of rows) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), greatest(coalesce((SELECT max(${quote(column)}) FROM ${quote(table)}), 0), $3) + 1, false)`,
      [quote(table), column, given.get(table) ?? 0],
    );
  }
}

/** The highest id SQLite gave in each AUTOINCREMENT table, rows since deleted included. */
function idsGivenBy(sqlite: DatabaseHandle['sqlite']): Map<string, number> {
  const rows = sqlite.prepare(`SELECT name, seq FROM sqlite_sequence`).all() as { name: string; seq: number }[];
  return new Map(rows.map((row) => [row.name, Number(row.seq)]));
}

/** The tables of the schema that hold rows, seeded ones left aside. */
async function tablesWithData(client: pg.ClientBase, tables: PgTable[]): Promise<string[]> {
  const found: string[] = [];
  for (const table of tables) {
    const { name } = getTableConfig(table);
    if (seededByMigrations.has(name)) continue;
    const { rows } = await client.query(`SELECT 1 FROM ${quote(name)} LIMIT 1`);
    if (rows.length > 0) found.push(name);
  }
  return found;
}

/**
 * Copies a SQLite installation into an empty PostgreSQL database, in one transaction: all of it or nothing.
 * Both are brought to the current migrations first, as Relais does at start. Values are copied as they are stored
 * (passwords stay encrypted under the same RELAIS_SECRET).
 */
export async function copySqliteToPostgres(options: { from: string; to: string }): Promise<CopiedTable[]> {
  if (!fs.existsSync(options.from)) throw new CopyRefusedError(`the SQLite database ${options.from} does not exist`);
  const source = openDatabase(options.from);
  try {
    const target = await openPostgres(options.to);
    const client = await target.pool.connect();
    try {
      const tables = tablesInCopyOrder();
      // One read transaction on the source: a consistent snapshot even while Relais keeps writing to it (WAL).
      source.sqlite.exec('BEGIN');
      await client.query('BEGIN');
      try {
        // The dashboard's counts are copied as they are: the trigger that counts accepted messages must not count them again.
        await client.query(`SET LOCAL relais.copying = 'on'`);
        const occupied = await tablesWithData(client, tables);
        if (occupied.length > 0) {
          throw new CopyRefusedError(`${redactUrl(options.to)} already holds data (${occupied.join(', ')}); copy only into an empty database`);
        }
        const copied: CopiedTable[] = [];
        for (const table of [...tables].reverse()) {
          const { name } = getTableConfig(table);
          if (seededByMigrations.has(name)) await client.query(`DELETE FROM ${quote(name)}`);
        }
        for (const table of tables) {
          const { name, columns } = getTableConfig(table);
          const names = columns.map((column) => column.name);
          const convert = columns.map((column) => converterFor(column.getSQLType()));
          const select = source.sqlite.prepare(`SELECT ${names.map(quote).join(', ')} FROM ${quote(name)}`).raw();
          const rows = (function* () {
            for (const row of select.iterate() as Iterable<unknown[]>) yield row.map((value, i) => convert[i]!(value));
          })();
          copied.push({ table: name, rows: await insertRows(client, name, names, rows) });
        }
        await resetIdentitySequences(client, idsGivenBy(source.sqlite));
        await client.query('COMMIT');
        return copied;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        source.sqlite.exec('COMMIT');
      }
    } finally {
      client.release();
      await target.close();
    }
  } finally {
    source.close();
  }
}
