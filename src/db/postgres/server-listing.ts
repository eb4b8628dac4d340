import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { defaultSort, type SortableColumn } from '../../smtp-servers/columns.js';
import { countLimitOf, pageNumbersOf, type ServerDepartment, type ServerListFilter } from '../../smtp-servers/store.js';
import { planSearch, type ConfirmationFilter, type SearchTerm, type TermMeaning, type TestFilter } from '../../smtp-servers/search.js';
import { likePattern } from '../like.js';
import { poolOf } from './named-statements.js';
import { smtpServers } from './schema.js';
import type { PgExecutor } from './stores.js';


// Byte-wise like SQLite: title_sort and host compare as "C"; the case-insensitive columns fold ASCII only, as
// SQLite's NOCASE does (lower() under "C" leaves "É" alone), each with its index (migrations/postgres).
const sortSql: Record<SortableColumn, string> = {
  id: 'id',
  title: 'title_sort COLLATE "C"',
  host: 'host COLLATE "C"',
  port: 'port',
  authentication: 'authentication',
  security: 'security',
  email: 'lower(email COLLATE "C")',
  senderName: 'lower(sender_name COLLATE "C")',
  username: 'lower(username COLLATE "C")',
  usage: 'usage',
  confirmation: 'confirmation_status',
};

function confirmationSql(status: ConfirmationFilter, now: number): SQL {
  // A pending link that has expired confirms nothing: the list shows it as expired, the filter as not confirmed.
  if (status === 'unconfirmed') {
    return sql`(confirmation_status = 'unconfirmed' OR (confirmation_status = 'pending' AND confirmation_expires_at <= ${now}))`;
  }
  if (status === 'pending') return sql`(confirmation_status = 'pending' AND confirmation_expires_at > ${now})`;
  return sql`confirmation_status = ${status}`;
}

const testSql: Record<TestFilter, SQL> = {
  ok: sql`last_test_ok = true`,
  failed: sql`last_test_ok = false`,
  never: sql`last_test_at IS NULL`,
};

function meaningSql(meaning: TermMeaning, now: number): SQL {
  if ('port' in meaning) return sql`port = ${meaning.port}`;
  if ('security' in meaning) return sql`security = ${meaning.security}`;
  return confirmationSql(meaning.confirmation, now);
}

// LIKE, not strpos: the planner then estimates how many rows match and picks the trigram index or a walk in order.
// A port no server uses matches no row, so "serveur 123" needs no look-up first: the OR is just the text.
// `(search_text || '')` is the same text out of the trigram index's reach: see scanWhereOf.
function termSql(term: SearchTerm, now: number, column = sql.raw('search_text')): SQL {
  const text = sql`${column} LIKE ${likePattern(term.text)}`;
  return term.meaning ? sql`(${meaningSql(term.meaning, now)} OR ${text})` : text;
}

function whereOf(filter: ServerListFilter, terms: SearchTerm[], now: number, column?: SQL): SQL {
  const conditions: SQL[] = [];
  if (filter.confirmation) conditions.push(confirmationSql(filter.confirmation, now));
  if (filter.test) conditions.push(testSql[filter.test]);
  if (filter.security) conditions.push(sql`security = ${filter.security}`);
  for (const term of terms) conditions.push(termSql(term, now, column));
  return conditions.length ? sql` WHERE ${sql.join(conditions, sql` AND `)}` : sql``;
}

/** A word of fewer than three letters or digits in a row gives the trigram index nothing to look up ("77", "fr"). */
const hasNoTrigram = (term: SearchTerm) => !/[\p{L}\p{N}]{3}/u.test(term.text);

/**
 * The WHERE for counting a broad search with such a word by reading the narrow table in its order, up to the bound:
 * the trigram index would first gather every row of the other words (66,666 for "production" in "production 77",
 * 28 ms) where a scan finds the first 1,001 matches among 40,000 rows (16 ms). Narrow searches keep the index.
 */
function scanWhereOf(filter: ServerListFilter, terms: SearchTerm[], now: number): SQL | null {
  return terms.some(hasNoTrigram) ? whereOf(filter, terms, now, sql.raw(`(search_text || '')`)) : null;
}

function orderOf(filter: ServerListFilter): SQL {
  const dir = filter.dir === 'desc' ? 'DESC' : 'ASC';
  return sql.raw(` ORDER BY ${sortSql[filter.sort ?? defaultSort.sort]} ${dir}, id ${dir}`);
}

type Columns = Record<string, { name: string; mapFromDriverValue(value: unknown): unknown }>;

// The departments a row serves, as [code, name] pairs in display order, read with the row (one snapshot, no
// separate reading of the departments).
const departmentsServedSql = sql.raw(
  `CASE WHEN usage = 'custom' THEN (SELECT json_agg(json_build_array(d.code, d.name) ORDER BY d.position, d.id)::text FROM smtp_server_departments l JOIN departments d ON d.id = l.department_id WHERE l.server_id = smtp_servers.id) END AS "departments_served"`,
);

const dialect = new PgDialect();

/**
 * A connection of its own held in one REPEATABLE READ read-only transaction, opened at the first `client()`: every
 * pass of an export over it (the PDF makes two) reads the same rows. `close()` ends it and gives the connection back.
 */
export function readSnapshotOn(db: PgExecutor) {
  let held: Promise<pg.PoolClient> | undefined;
  return {
    client(): Promise<pg.PoolClient> {
      return (held ??= (async () => {
        const pool = poolOf(db);
        if (!pool) throw new Error('a snapshot reads on a connection of its own: open it on the pool, not in a transaction');
        const client = await pool.connect();
        try {
          await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          return client;
        } catch (err) {
          client.release(true);
          throw err;
        }
      })());
    },
    async close(): Promise<void> {
      const closing = held;
      held = undefined;
      const client = await closing?.catch(() => undefined);
      if (!client) return;
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch {
        // A connection whose transaction could not be closed cleanly is not handed out again.
        client.release(true);
      }
    },
  };
}

// Past this many matches a page is read down the sort column's index; below, the matches are found, then sorted.
const broadSearchThreshold = 2000;
const maxRemembered = 500;

/**
 * The list's SQL on PostgreSQL, mirroring createServerListing (src/db/sqlite/server-listing.ts): the same rows in the
 * same order for the same filter. `fields` are the table's columns a row carries, `flags` conditions (PostgreSQL SQL)
 * it carries as booleans.
 */
export function createPostgresServerListing<K extends string, F extends string = never>(
  db: PgExecutor,
  fields: readonly K[],
  flags: Record<F, string> = {} as Record<F, string>,
) {
  const columns = getTableColumns(smtpServers) as unknown as Columns;
  const mapped = fields.map((key) => [key, columns[key]!] as const);
  const flagNames = Object.keys(flags) as F[];
  const select = sql.raw(
    [...mapped.map(([, column]) => `"${column.name}"`), ...flagNames.map((name, i) => `(${flags[name]}) AS "flag_${i}"`)].join(', '),
  );

  type Row = Record<K, unknown> & Record<F, boolean> & { departments: ServerDepartment[] };

  // A handful of combinations, shared by every row: each parsed once.
  const servedBy = new Map<string, ServerDepartment[]>();
  function served(pairs: unknown): ServerDepartment[] {
    if (typeof pairs !== 'string' || !pairs) return [];
    let departments = servedBy.get(pairs);
    if (!departments) {
      departments = (JSON.parse(pairs) as [string, string][]).map(([code, name]) => ({ code, name }));
      if (servedBy.size >= maxRemembered) servedBy.clear();
      servedBy.set(pairs, departments);
    }
    return departments;
  }

  function rowOf(values: Record<string, unknown>): Row {
    const row = {} as Row;
    for (const [key, column] of mapped) {
      const value = values[column.name];
      (row as Record<K, unknown>)[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
    }
    flagNames.forEach((name, i) => ((row as Record<F, boolean>)[name] = values[`flag_${i}`] === true));
    row.departments = served(values.departments_served);
    return row;
  }

  // Searches found broad at their last count: a hint of the plan, never of the result.
  const broadBefore = new Set<string>();
  function remember(shapeKey: string, broad: boolean) {
    if (!broad) return void broadBefore.delete(shapeKey);
    if (broadBefore.size >= maxRemembered) broadBefore.delete(broadBefore.values().next().value!);
    broadBefore.add(shapeKey);
  }

  function termsOf(q: string | undefined): SearchTerm[] {
    return q ? planSearch(q) : [];
  }

  // On the narrow copy (same column names, its own trigram index): a broad match is counted without the wide rows,
  // and only up to `limit` + 1 (past it the list says « more than »); the whole list, unfiltered, is counted in full.
  function countSql(where: SQL, limit: number): SQL {
    if (limit === Infinity) return sql`SELECT count(*) FROM smtp_servers_search`;
    return sql`SELECT count(*) FROM (SELECT 1 FROM smtp_servers_search${where} LIMIT ${limit + 1}) AS matches`;
  }

  function everySql(filter: ServerListFilter): SQL {
    return sql`SELECT ${select}, ${departmentsServedSql} FROM smtp_servers${whereOf(filter, termsOf(filter.q), Date.now())}${orderOf(filter)}`;
  }

  return {
    /** One page in display order, with the count of the matches (exact up to `countLimitOf`). */
    async page(filter: ServerListFilter, page: number, perPage: number) {
      const terms = termsOf(filter.q);
      const now = Date.now();
      const where = whereOf(filter, terms, now);
      const order = orderOf(filter);
      const limit = countLimitOf(filter, terms.length, page, perPage);
      const limitAt = (at: number) => sql` LIMIT ${perPage} OFFSET ${(at - 1) * perPage}`;
      const rowsOf = (ids: SQL, extra = sql``) => sql`SELECT ${select}, ${departmentsServedSql}${extra} FROM smtp_servers WHERE id IN (${ids})${order}`;
      const key = dialect.sqlToQuery(where);
      const shapeKey = key.sql + JSON.stringify(key.params);
      // A search that was broad last time is counted and read in one statement (one round trip, one snapshot); the
      // count is the same whatever the guess, which only chooses the plan.
      if (broadBefore.has(shapeKey) && page >= 1) {
        const countWhere = scanWhereOf(filter, terms, now) ?? where;
        const result = await db.execute(rowsOf(sql`SELECT id FROM smtp_servers${where}${order}${limitAt(page)}`, sql`, (${countSql(countWhere, limit)}) AS "total_matches"`));
        const first = result.rows[0];
        if (first) {
          const numbers = pageNumbersOf(Number(first.total_matches), limit, page, perPage);
          if (numbers.exact && numbers.total <= broadSearchThreshold) broadBefore.delete(shapeKey);
          return { rows: result.rows.map((values) => rowOf(values)), ...numbers };
        }
      }
      const counted = await db.execute<{ count: string | number }>(countSql(where, limit));
      const numbers = pageNumbersOf(Number(counted.rows[0]!.count), limit, page, perPage);
      if (numbers.total === 0) return { rows: [], ...numbers };
      const broad = !numbers.exact || numbers.total > broadSearchThreshold;
      remember(shapeKey, broad);
      // A broad search walks the sort column's index and stops after one page; a narrower one sorts the few rows the
      // trigram index finds (materialized, so the planner cannot walk the whole index for a match it overestimates).
      const ids = broad
        ? sql`SELECT id FROM smtp_servers${where}${order}${limitAt(numbers.page)}`
        : sql`WITH matches AS MATERIALIZED (SELECT * FROM smtp_servers${where}) SELECT id FROM matches${order}${limitAt(numbers.page)}`;
      // The page's ids first, from the indexes alone where they cover the order; then only those rows in full.
      const result = await db.execute(rowsOf(ids));
      return { rows: result.rows.map((values) => rowOf(values)), ...numbers };
    },

    /**
     * Every match in display order, a batch at a time, through a cursor on `client`, a connection held in a read-only
     * snapshot (readSnapshotOn): memory holds a batch, not the result. Leaving the loop early closes the cursor; the
     * snapshot stays open for another pass.
     */
    async *batches(filter: ServerListFilter, client: pg.PoolClient, batchSize = 250): AsyncGenerator<Row[]> {
      const { sql: text, params } = dialect.sqlToQuery(everySql(filter));
      const stream = client.query(new QueryStream(text, params, { batchSize, highWaterMark: batchSize }));
      try {
        let batch: Row[] = [];
        for await (const values of stream) {
          batch.push(rowOf(values as Record<string, unknown>));
          if (batch.length === batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      } finally {
        if (!stream.destroyed) stream.destroy();
      }
    },
  };
}
