import type BetterSqlite3 from 'better-sqlite3';
import { getTableColumns } from 'drizzle-orm';
import { defaultSort, type SortableColumn } from '../../smtp-servers/columns.js';
import { countLimitOf, pageNumbersOf, type Department, type ServerDepartment, type ServerListFilter } from '../../smtp-servers/store.js';
import { smtpServers } from './schema.js';
import {
  ftsPhrase,
  indexable,
  planSearch,
  type ConfirmationFilter,
  type SearchTerm,
  type TermMeaning,
  type TestFilter,
} from '../../smtp-servers/search.js';

interface Condition {
  sql: string;
  params: unknown[];
}

/** A statement's text and its parameters, for a connection of one's own (the exports' snapshot). */
export interface BoundSql {
  sql: string;
  params: unknown[];
}

const sortSql: Record<SortableColumn, string> = {
  id: 'id',
  title: 'title_sort',
  host: 'host',
  port: 'port',
  authentication: 'authentication',
  security: 'security',
  email: 'email COLLATE NOCASE',
  senderName: 'sender_name COLLATE NOCASE',
  username: 'username COLLATE NOCASE',
  usage: 'usage',
  confirmation: 'confirmation_status',
};

// A search matching more rows than this pages best down the sort column's index, stopping after one page;
// a narrower one sorts the few rows the trigram index finds.
const broadSearchThreshold = 2000;
// Up to this many servers one pass over the covering title index (about 0.07 ms per 1,000 rows) counts any search
// faster than the trigram index counts a broad one; beyond it, the index tells a narrow search from a broad one.
const scanCountLimit = 20_000;
const maxStatements = 300;

function confirmationSql(status: ConfirmationFilter, now: number): Condition {
  // A pending link that has expired confirms nothing: the list shows it as expired, the filter as not confirmed.
  if (status === 'unconfirmed') {
    return { sql: "(confirmation_status = 'unconfirmed' OR (confirmation_status = 'pending' AND confirmation_expires_at <= ?))", params: [now] };
  }
  if (status === 'pending') return { sql: "(confirmation_status = 'pending' AND confirmation_expires_at > ?)", params: [now] };
  return { sql: 'confirmation_status = ?', params: [status] };
}

const testSql: Record<TestFilter, string> = {
  ok: 'last_test_ok = 1',
  failed: 'last_test_ok = 0',
  never: 'last_test_at IS NULL',
};

function meaningSql(meaning: TermMeaning, now: number): Condition {
  if ('port' in meaning) return { sql: 'port = ?', params: [meaning.port] };
  if ('security' in meaning) return { sql: 'security = ?', params: [meaning.security] };
  return confirmationSql(meaning.confirmation, now);
}

const ftsSql = 'id IN (SELECT rowid FROM smtp_servers_fts WHERE smtp_servers_fts MATCH ?)';
// instr, not LIKE: the search text is already lower case, and no wildcard needs escaping.
const containsSql = 'instr(search_text, ?) > 0';

/** `index` finds text through the trigram index; `scan` tests each term on the search text of every row it reads. */
type Strategy = 'index' | 'scan';

function termSql(term: SearchTerm, strategy: Strategy, now: number): Condition {
  const text: Condition =
    strategy === 'index' && indexable(term) ? { sql: ftsSql, params: [ftsPhrase(term.text)] } : { sql: containsSql, params: [term.text] };
  if (!term.meaning) return text;
  const meaning = meaningSql(term.meaning, now);
  return { sql: `(${meaning.sql} OR ${text.sql})`, params: [...meaning.params, ...text.params] };
}

function whereOf(filter: ServerListFilter, terms: SearchTerm[], strategy: Strategy, now: number): Condition {
  const conditions: Condition[] = [];
  if (filter.confirmation) conditions.push(confirmationSql(filter.confirmation, now));
  if (filter.test) conditions.push({ sql: testSql[filter.test], params: [] });
  if (filter.security) conditions.push({ sql: 'security = ?', params: [filter.security] });
  // Plain words for the trigram index go in one MATCH; the others each bring their own condition.
  const together = strategy === 'index' ? terms.filter((term) => !term.meaning && indexable(term)) : [];
  if (together.length) conditions.push({ sql: ftsSql, params: [together.map((term) => ftsPhrase(term.text)).join(' AND ')] });
  for (const term of terms) if (!together.includes(term)) conditions.push(termSql(term, strategy, now));
  if (conditions.length === 0) return { sql: '', params: [] };
  return { sql: ` WHERE ${conditions.map((c) => c.sql).join(' AND ')}`, params: conditions.flatMap((c) => c.params) };
}

function orderOf(filter: ServerListFilter): string {
  const dir = filter.dir === 'desc' ? 'DESC' : 'ASC';
  return ` ORDER BY ${sortSql[filter.sort ?? defaultSort.sort]} ${dir}, id ${dir}`;
}

type Columns = Record<string, { name: string; mapFromDriverValue(value: unknown): unknown }>;

/** A select list for these table columns, and the function that reads a raw row of it back into named values. */
function projection<K extends string>(columns: Columns, keys: readonly K[]) {
  const mapped = keys.map((key) => [key, columns[key]!] as const);
  return {
    sql: mapped.map(([, column]) => `"${column.name}"`).join(', '),
    read(values: unknown[]): Record<K, unknown> {
      const row = {} as Record<K, unknown>;
      mapped.forEach(([key, column], i) => {
        const value = values[i];
        row[key] = value === null ? null : column.mapFromDriverValue(value);
      });
      return row;
    },
  };
}

const departmentIdsSql =
  "CASE WHEN usage = 'custom' THEN (SELECT group_concat(department_id) FROM smtp_server_departments WHERE server_id = smtp_servers.id) END";

/**
 * The list's SQL on SQLite: written by hand and prepared once per shape (sort, filters, kinds of search words),
 * so a page costs its queries, not building them. `fields` are the table's columns a row carries, `flags` conditions
 * it carries as booleans.
 */
export function createServerListing<K extends string, F extends string = never>(
  sqlite: BetterSqlite3.Database,
  fields: readonly K[],
  departments: () => Department[],
  flags: Record<F, string> = {} as Record<F, string>,
) {
  const columns = getTableColumns(smtpServers) as unknown as Columns;
  const fieldSql = projection(columns, fields);
  const flagNames = Object.keys(flags) as F[];
  const select = { sql: [fieldSql.sql, ...flagNames.map((name) => flags[name])].join(', ') };
  const statements = new Map<string, BetterSqlite3.Statement>();
  function prepared(text: string): BetterSqlite3.Statement {
    let statement = statements.get(text);
    if (!statement) {
      statement = sqlite.prepare(text);
      if (statements.size >= maxStatements) statements.delete(statements.keys().next().value!);
      statements.set(text, statement);
    }
    return statement;
  }
  const countAll = sqlite.prepare('SELECT count(*) FROM smtp_servers').pluck();
  const portInUse = sqlite.prepare('SELECT 1 FROM smtp_servers WHERE port = ? LIMIT 1').pluck();

  /** The search's terms; a number names a port only when some server uses it (else "serveur 123" would read every row). */
  function termsOf(q: string | undefined): SearchTerm[] {
    if (!q) return [];
    return planSearch(q).map((term) => (term.meaning && 'port' in term.meaning && !portInUse.get(term.meaning.port) ? { ...term, meaning: null } : term));
  }

  // Departments served, by the ids a row lists ("1,3"): a handful of combinations, shared by every row, worked out
  // again when a department was added or renamed (the list is read at each listing).
  let servedBy = new Map<string, ServerDepartment[]>();
  let current: Department[] = [];
  let currentKey = '';
  function readDepartments() {
    const all = departments();
    const key = all.map((d) => `${d.id}\t${d.code}\t${d.name}`).join('\n');
    current = all;
    if (key !== currentKey) {
      currentKey = key;
      servedBy = new Map();
    }
  }
  function servedDepartments(ids: unknown): ServerDepartment[] {
    if (typeof ids !== 'string' || !ids) return [];
    let served = servedBy.get(ids);
    if (!served) {
      const wanted = ids.split(',');
      served = current
        .filter((d) => wanted.includes(String(d.id)))
        .map((d) => ({ code: d.code, name: d.name }));
      servedBy.set(ids, served);
    }
    return served;
  }

  function rowOf(values: unknown[]): Record<K, unknown> & Record<F, boolean> & { departments: ServerDepartment[] } {
    const row = fieldSql.read(values) as Record<K, unknown> & Record<F, boolean> & { departments: ServerDepartment[] };
    flagNames.forEach((name, i) => ((row as Record<F, boolean>)[name] = values[fields.length + i] === 1));
    row.departments = servedDepartments(values[fields.length + flagNames.length]);
    return row;
  }

  /** The matches, counted up to `limit` + 1 (past it the list says « more than »); all of them for an Infinity limit. */
  function count(filter: ServerListFilter, terms: SearchTerm[], now: number, limit: number): number {
    if (limit === Infinity) return countAll.get() as number;
    const plain = terms.length > 0 && terms.every((term) => !term.meaning && indexable(term));
    const filtered = Boolean(filter.confirmation || filter.test || filter.security);
    // `? + 0`, not `?`: SQLite plans again at each run a statement whose LIMIT is a bare parameter.
    if (plain && !filtered && (countAll.get() as number) > scanCountLimit) {
      return prepared('SELECT count(*) FROM (SELECT 1 FROM smtp_servers_fts WHERE smtp_servers_fts MATCH ? LIMIT ? + 0)')
        .pluck()
        .get(terms.map((term) => ftsPhrase(term.text)).join(' AND '), limit + 1) as number;
    }
    const where = whereOf(filter, terms, 'scan', now);
    return prepared(`SELECT count(*) FROM (SELECT 1 FROM smtp_servers${where.sql} LIMIT ? + 0)`).pluck().get(...where.params, limit + 1) as number;
  }

  return {
    /** One page in display order, with the count of the matches (exact up to `countLimitOf`). */
    page(filter: ServerListFilter, page: number, perPage: number) {
      readDepartments();
      const now = Date.now();
      const terms = termsOf(filter.q);
      const limit = countLimitOf(filter, terms.length, page, perPage);
      const numbers = pageNumbersOf(count(filter, terms, now, limit), limit, page, perPage);
      if (numbers.total === 0) return { rows: [], ...numbers };
      const broad = !numbers.exact || numbers.total > broadSearchThreshold;
      const where = whereOf(filter, terms, broad ? 'scan' : 'index', now);
      const order = orderOf(filter);
      // The page's ids first, from the indexes alone where they cover the order; then only those rows in full.
      const statement = prepared(
        `SELECT ${select.sql}, ${departmentIdsSql} FROM smtp_servers WHERE id IN (SELECT id FROM smtp_servers${where.sql}${order} LIMIT ? + 0 OFFSET ? + 0)${order}`,
      ).raw();
      const rows = (statement.all(...where.params, perPage, (numbers.page - 1) * perPage) as unknown[][]).map(rowOf);
      return { rows, ...numbers };
    },

    /** Every match in display order, for a cursor on another connection; read its rows with `rowOf`. */
    everySql(filter: ServerListFilter): BoundSql {
      readDepartments();
      const where = whereOf(filter, termsOf(filter.q), 'index', Date.now());
      return { sql: `SELECT ${select.sql}, ${departmentIdsSql} FROM smtp_servers${where.sql}${orderOf(filter)}`, params: where.params };
    },

    rowOf,
    servedDepartments,
  };
}
