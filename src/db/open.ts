import type { DatabaseConfig } from '../config.js';
import { openDatabase, type DatabaseHandle } from './sqlite/client.js';
import { openPostgres } from './postgres/client.js';
import { createPostgresStores } from './postgres/stores.js';
import { createSqliteStores } from './sqlite/stores.js';
import type { Stores } from './stores.js';

export interface OpenedStores {
  stores: Stores;
  /** The SQLite file's handle, while parts of the app still use it directly. */
  sqlite: DatabaseHandle | null;
}

/** Opens and migrates the configured database: a SQLite file, or PostgreSQL from a postgres:// URL. */
export async function openStores(database: DatabaseConfig): Promise<OpenedStores> {
  if (database.kind === 'postgres') return { stores: createPostgresStores(await openPostgres(database.url, database.poolSize ? { max: database.poolSize } : {})), sqlite: null };
  const handle = openDatabase(database.file);
  return { stores: createSqliteStores(handle), sqlite: handle };
}
