import { and, asc, count, eq, getTableColumns, isNotNull, ne, sql } from 'drizzle-orm';
import { exportedFields, listedFields, type ExportedServer, type ListedServer, type ServerDepartment, type ServerStore } from '../../smtp-servers/store.js';
import { UniqueViolation } from '../errors.js';
import { passwordFlagsSql, sealedByNone } from '../sealed-by.js';
import { isUniqueViolation } from './errors.js';
import { departments, smtpServerDepartments, smtpServers } from './schema.js';
import { createPostgresServerListing, readSnapshotOn } from './server-listing.js';
import type { PgExecutor } from './stores.js';

const { passwordCiphertext: _password, oauthSecretCiphertext: _oauthSecret, searchText: _searchText, titleKey: _titleKey, titleSort: _titleSort, ...rowColumns } = getTableColumns(smtpServers);

async function titled<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new UniqueViolation('title', err);
    throw err;
  }
}


const byPosition = [asc(departments.position), asc(departments.id)];

/** What the listings share across the transactions of one pool: the listings themselves. */
export function createPostgresListingCache(db: PgExecutor) {
  const pageListings = new Map<string, ReturnType<typeof pageListingFor>>();
  function pageListingFor(keyIds: readonly string[]) {
    return createPostgresServerListing(db, listedFields, passwordFlagsSql(keyIds));
  }
  let exportListing: ReturnType<typeof createPostgresServerListing<(typeof exportedFields)[number]>> | null = null;
  return {
    pageListing(keyIds: readonly string[]) {
      const key = keyIds.join('\n');
      let listing = pageListings.get(key);
      if (!listing) pageListings.set(key, (listing = pageListingFor(keyIds)));
      return listing;
    },
    exportListing() {
      return (exportListing ??= createPostgresServerListing(db, exportedFields));
    },
  };
}

export type PostgresListingCache = ReturnType<typeof createPostgresListingCache>;

export function createPostgresServerStore(db: PgExecutor, listings: PostgresListingCache): ServerStore {
  async function departmentsOf(serverId: number): Promise<ServerDepartment[]> {
    return db
      .select({ code: departments.code, name: departments.name })
      .from(smtpServerDepartments)
      .innerJoin(departments, eq(departments.id, smtpServerDepartments.departmentId))
      .where(eq(smtpServerDepartments.serverId, serverId))
      .orderBy(...byPosition);
  }

  return {
    async find(id) {
      const [row] = await db
        .select({ ...rowColumns, passwordCiphertext: smtpServers.passwordCiphertext, oauthSecretCiphertext: smtpServers.oauthSecretCiphertext })
        .from(smtpServers)
        .where(eq(smtpServers.id, id));
      return row ? { ...row, departments: row.usage === 'custom' ? await departmentsOf(id) : [] } : null;
    },

    async titleKeyTaken(titleKey, exceptId) {
      const condition = eq(smtpServers.titleKey, titleKey);
      const [found] = await db
        .select({ id: smtpServers.id })
        .from(smtpServers)
        .where(exceptId === undefined ? condition : and(condition, ne(smtpServers.id, exceptId)))
        .limit(1);
      return Boolean(found);
    },

    async insert(row) {
      const [inserted] = await titled(() => db.insert(smtpServers).values(row).returning({ id: smtpServers.id }));
      return inserted!.id;
    },

    async update(id, changes, expectedVersion) {
      const where = expectedVersion === undefined ? eq(smtpServers.id, id) : and(eq(smtpServers.id, id), eq(smtpServers.version, expectedVersion));
      // A concurrent update of the row waits for this one, then finds the version moved on.
      const written = await titled(() =>
        db
          .update(smtpServers)
          .set({ ...changes, version: sql`${smtpServers.version} + 1`, updatedAt: new Date() })
          .where(where)
          .returning({ id: smtpServers.id }),
      );
      if (written.length === 1) return 'updated';
      const [exists] = await db.select({ id: smtpServers.id }).from(smtpServers).where(eq(smtpServers.id, id));
      return exists ? 'stale' : 'missing';
    },

    async setDepartments(serverId, departmentIds) {
      await db.delete(smtpServerDepartments).where(eq(smtpServerDepartments.serverId, serverId));
      if (departmentIds.length) await db.insert(smtpServerDepartments).values(departmentIds.map((departmentId) => ({ serverId, departmentId })));
    },

    async delete(id) {
      const deleted = await db.delete(smtpServers).where(eq(smtpServers.id, id)).returning({ id: smtpServers.id });
      return deleted.length === 1;
    },

    async page(filter, page, perPage, keyIds) {
      const result = await listings.pageListing(keyIds).page(filter, page, perPage);
      return { ...result, rows: result.rows as unknown as ListedServer[] };
    },

    openSnapshot() {
      const listing = listings.exportListing();
      const snapshot = readSnapshotOn(db);
      return {
        async *batches(filter = {}, batchSize = 250) {
          for await (const batch of listing.batches(filter, await snapshot.client(), batchSize)) yield batch as unknown as ExportedServer[];
        },
        close() {
          void snapshot.close();
        },
      };
    },

    async missingSortKeys() {
      return db.select({ id: smtpServers.id, title: smtpServers.title }).from(smtpServers).where(eq(smtpServers.titleSort, ''));
    },

    async setSortKey(id, titleSort) {
      await db.update(smtpServers).set({ titleSort }).where(eq(smtpServers.id, id));
    },

    async setSearchText(id, searchText) {
      await db.update(smtpServers).set({ searchText }).where(eq(smtpServers.id, id));
    },

    async passwordEnvelopes() {
      const rows = await db
        .select({ id: smtpServers.id, envelope: smtpServers.passwordCiphertext })
        .from(smtpServers)
        .where(isNotNull(smtpServers.passwordCiphertext))
        .orderBy(asc(smtpServers.id));
      return rows.map((row) => ({ id: row.id, envelope: row.envelope! }));
    },

    async replaceEnvelope(id, envelope) {
      await db.update(smtpServers).set({ passwordCiphertext: envelope }).where(eq(smtpServers.id, id));
    },

    async countSealedByNoneOf(keyIds) {
      const [row] = await db.select({ n: count() }).from(smtpServers).where(sealedByNone(smtpServers.passwordCiphertext, keyIds));
      return row?.n ?? 0;
    },

    async oauthSecretEnvelopes() {
      const rows = await db
        .select({ id: smtpServers.id, envelope: smtpServers.oauthSecretCiphertext })
        .from(smtpServers)
        .where(isNotNull(smtpServers.oauthSecretCiphertext))
        .orderBy(asc(smtpServers.id));
      return rows.map((row) => ({ id: row.id, envelope: row.envelope! }));
    },

    async replaceOauthSecretEnvelope(id, envelope) {
      await db.update(smtpServers).set({ oauthSecretCiphertext: envelope }).where(eq(smtpServers.id, id));
    },

    async countOauthSecretsSealedByNoneOf(keyIds) {
      const [row] = await db.select({ n: count() }).from(smtpServers).where(sealedByNone(smtpServers.oauthSecretCiphertext, keyIds));
      return row?.n ?? 0;
    },
  };
}
