// PLACEHOLDER until the PostgreSQL listing (another branch, same path and signature) is merged: it replaces this file.
import type { Department, ServerDepartment, ServerListFilter } from '../../smtp-servers/store.js';
import type { PgExecutor } from './stores.js';

type Row<K extends string, F extends string> = Record<K, unknown> & Record<F, boolean> & { departments: ServerDepartment[] };

export function createPostgresServerListing<K extends string, F extends string = never>(
  _db: PgExecutor,
  _fields: readonly K[],
  _departments: () => Department[] | Promise<Department[]>,
  _flags: Record<F, string> = {} as Record<F, string>,
) {
  const missing = () => new Error('the PostgreSQL server listing is not merged yet');
  return {
    async page(_filter: ServerListFilter, _page: number, _perPage: number): Promise<{ rows: Row<K, F>[]; total: number; page: number; pages: number; perPage: number }> {
      throw missing();
    },
    // eslint-disable-next-line require-yield
    async *batches(_filter: ServerListFilter, _batchSize: number): AsyncGenerator<Row<K, F>[]> {
      throw missing();
    },
  };
}
