import BetterSqlite3 from 'better-sqlite3';
import { and, asc, count, eq, getTableColumns, isNotNull, ne, sql } from 'drizzle-orm';
import type { ExportedServer, ListedServer, ServerDepartment, ServerStore } from '../../smtp-servers/store.js';
import { exportedFields, listedFields } from '../../smtp-servers/store.js';
import type { Db } from './client.js';
import { UniqueViolation } from '../errors.js';
import { passwordFlagsSql, sealedByNone } from '../sealed-by.js';
import { departments, smtpServerDepartments, smtpServers } from './schema.js';
import { isUniqueViolation } from './errors.js';
import { createServerListing } from './server-listing.js';
import { departmentLister } from './departments.js';
import type { WriteLock } from './write-lock.js';

const { passwordCiphertext: _password, oauthSecretCiphertext: _oauthSecret, searchText: _searchText, titleKey: _titleKey, titleSort: _titleSort, ...rowColumns } = getTableColumns(smtpServers);

function titled<T>(write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new UniqueViolation('title', err);
    throw err;
  }
}

// An export reads each row once, in sort order, so table pages rarely come back while still cached: better-sqlite3's
// default 16 MB cache grew the process by 16 MB per export for no speed; 2 MB does as well (the OS caches the file).
const snapshotCacheKib = 2000;

export function createSqliteServerStore(db: Db, sqlite: BetterSqlite3.Database, lock: WriteLock): ServerStore {
  // Read at each listing: administrators add and rename departments (3 to 20 rows), maybe from another instance.
  const allDepartments = departmentLister(sqlite);
  const exportListing = createServerListing(sqlite, exportedFields, allDepartments);
  const pageListings = new Map<string, ReturnType<typeof pageListingFor>>();
  function pageListingFor(keyIds: readonly string[]) {
    return createServerListing(sqlite, listedFields, allDepartments, passwordFlagsSql(keyIds));
  }

  function departmentsOf(serverId: number): ServerDepartment[] {
    return db
      .select({ code: departments.code, name: departments.name })
      .from(smtpServerDepartments)
      .innerJoin(departments, eq(departments.id, smtpServerDepartments.departmentId))
      .where(eq(smtpServerDepartments.serverId, serverId))
      .orderBy(asc(departments.position), asc(departments.id))
      .all();
  }

  return {
    async find(id) {
      const row = db
        .select({ ...rowColumns, passwordCiphertext: smtpServers.passwordCiphertext, oauthSecretCiphertext: smtpServers.oauthSecretCiphertext })
        .from(smtpServers)
        .where(eq(smtpServers.id, id))
        .get();
      return row ? { ...row, departments: row.usage === 'custom' ? departmentsOf(id) : [] } : null;
    },

    async titleKeyTaken(titleKey, exceptId) {
      const condition = eq(smtpServers.titleKey, titleKey);
      const found = db
        .select({ id: smtpServers.id })
        .from(smtpServers)
        .where(exceptId === undefined ? condition : and(condition, ne(smtpServers.id, exceptId)))
        .get();
      return Boolean(found);
    },

    async insert(row) {
      return lock.run(() => titled(() => db.insert(smtpServers).values(row).returning({ id: smtpServers.id }).get().id));
    },

    async update(id, changes, expectedVersion) {
      return lock.run(() => {
        const where = expectedVersion === undefined ? eq(smtpServers.id, id) : and(eq(smtpServers.id, id), eq(smtpServers.version, expectedVersion));
        const { changes: written } = titled(() =>
          db
            .update(smtpServers)
            .set({ ...changes, version: sql`${smtpServers.version} + 1`, updatedAt: new Date() })
            .where(where)
            .run(),
        );
        if (written === 1) return 'updated';
        return db.select({ id: smtpServers.id }).from(smtpServers).where(eq(smtpServers.id, id)).get() ? 'stale' : 'missing';
      });
    },

    async setDepartments(serverId, departmentIds) {
      await lock.run(() => {
        db.delete(smtpServerDepartments).where(eq(smtpServerDepartments.serverId, serverId)).run();
        if (departmentIds.length) db.insert(smtpServerDepartments).values(departmentIds.map((departmentId) => ({ serverId, departmentId }))).run();
      });
    },

    async delete(id) {
      return lock.run(() => db.delete(smtpServers).where(eq(smtpServers.id, id)).run().changes === 1);
    },

    async page(filter, page, perPage, keyIds) {
      const key = keyIds.join('\n');
      let listing = pageListings.get(key);
      if (!listing) pageListings.set(key, (listing = pageListingFor(keyIds)));
      const result = listing.page(filter, page, perPage);
      return { ...result, rows: result.rows as unknown as ListedServer[] };
    },

    openSnapshot() {
      // drizzle has no cursor; better-sqlite3 has, on a connection that nothing else uses meanwhile.
      const reader = new BetterSqlite3(sqlite.name, { readonly: true, fileMustExist: true });
      reader.pragma('busy_timeout = 5000');
      reader.pragma(`cache_size = ${-snapshotCacheKib}`);
      // In WAL mode the first read fixes the snapshot; it holds until COMMIT.
      reader.exec('BEGIN');
      let open = true;
      return {
        async *batches(filter = {}, batchSize = 250) {
          const { sql: text, params } = exportListing.everySql(filter);
          const cursor = reader.prepare(text).raw().iterate(...params) as IterableIterator<unknown[]>;
          try {
            let batch: ExportedServer[] = [];
            for (const values of cursor) {
              batch.push(exportListing.rowOf(values) as unknown as ExportedServer);
              if (batch.length === batchSize) {
                yield batch;
                batch = [];
              }
            }
            if (batch.length) yield batch;
          } finally {
            cursor.return?.();
          }
        },
        close() {
          if (!open) return;
          open = false;
          reader.exec('COMMIT');
          reader.close();
        },
      };
    },

    async missingSortKeys() {
      return db.select({ id: smtpServers.id, title: smtpServers.title }).from(smtpServers).where(eq(smtpServers.titleSort, '')).all();
    },

    async setSortKey(id, titleSort) {
      await lock.run(() => db.update(smtpServers).set({ titleSort }).where(eq(smtpServers.id, id)).run());
    },

    async setSearchText(id, searchText) {
      await lock.run(() => db.update(smtpServers).set({ searchText }).where(eq(smtpServers.id, id)).run());
    },

    async passwordEnvelopes() {
      const rows = db
        .select({ id: smtpServers.id, envelope: smtpServers.passwordCiphertext })
        .from(smtpServers)
        .where(isNotNull(smtpServers.passwordCiphertext))
        .orderBy(asc(smtpServers.id))
        .all();
      return rows.map((row) => ({ id: row.id, envelope: row.envelope! }));
    },

    async replaceEnvelope(id, envelope) {
      await lock.run(() => db.update(smtpServers).set({ passwordCiphertext: envelope }).where(eq(smtpServers.id, id)).run());
    },

    async countSealedByNoneOf(keyIds) {
      return db.select({ n: count() }).from(smtpServers).where(sealedByNone(smtpServers.passwordCiphertext, keyIds)).get()?.n ?? 0;
    },

    async oauthSecretEnvelopes() {
      const rows = db
        .select({ id: smtpServers.id, envelope: smtpServers.oauthSecretCiphertext })
        .from(smtpServers)
        .where(isNotNull(smtpServers.oauthSecretCiphertext))
        .orderBy(asc(smtpServers.id))
        .all();
      return rows.map((row) => ({ id: row.id, envelope: row.envelope! }));
    },

    async replaceOauthSecretEnvelope(id, envelope) {
      await lock.run(() => db.update(smtpServers).set({ oauthSecretCiphertext: envelope }).where(eq(smtpServers.id, id)).run());
    },

    async countOauthSecretsSealedByNoneOf(keyIds) {
      return db.select({ n: count() }).from(smtpServers).where(sealedByNone(smtpServers.oauthSecretCiphertext, keyIds)).get()?.n ?? 0;
    },
  };
}
