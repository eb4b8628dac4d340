import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import type { PgExecutor } from './stores.js';

const dialect = new PgDialect();
const names = new Map<string, string>();
const maxNames = 100;

/** The pool behind an executor; null inside a transaction (its executor is bound to one connection). */
export function poolOf(db: PgExecutor): pg.Pool | null {
  const client = (db as { $client?: unknown }).$client;
  return client instanceof pg.Pool ? client : null;
}

/**
 * Runs a statement prepared by name on each connection of the pool: parsed once per connection, and after a few runs
 * planned once (PostgreSQL keeps a generic plan when it costs no more than the custom ones). Only for statements whose
 * best plan does not hang on their values (not a search pattern: a plan kept for one pattern reads 100,000 rows for
 * another). In a transaction, or past `maxNames` texts, an ordinary statement.
 */
export async function runNamed<T>(db: PgExecutor, query: SQL): Promise<{ rows: T[] }> {
  const pool = poolOf(db);
  const { sql: text, params } = dialect.sqlToQuery(query);
  let name = names.get(text);
  if (name === undefined && names.size < maxNames) names.set(text, (name = `relais_${names.size}`));
  if (!pool || name === undefined) return (await db.execute(query)) as unknown as { rows: T[] };
  return (await pool.query({ name, text, values: params as unknown[] })) as unknown as { rows: T[] };
}
