import { and, asc, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { ApiTokenRow, ApiTokenStore } from '../../api-tokens/store.js';
import type { Db } from './client.js';
import { apiTokenDepartments, apiTokenRequests, apiTokens, departments, users } from './schema.js';
import type { WriteLock } from './write-lock.js';

export function createSqliteApiTokenStore(db: Db, lock: WriteLock): ApiTokenStore {
  const columns = {
    id: apiTokens.id,
    name: apiTokens.name,
    hint: apiTokens.hint,
    allDepartments: apiTokens.allDepartments,
    createdAt: apiTokens.createdAt,
    createdBy: apiTokens.createdBy,
    createdByName: users.displayName,
    lastUsedAt: apiTokens.lastUsedAt,
    revokedAt: apiTokens.revokedAt,
  };
  const base = () => db.select(columns).from(apiTokens).leftJoin(users, eq(users.id, apiTokens.createdBy));

  function withDepartments(rows: Omit<ApiTokenRow, 'departments'>[]): ApiTokenRow[] {
    if (rows.length === 0) return [];
    const links = db
      .select({ tokenId: apiTokenDepartments.tokenId, code: departments.code })
      .from(apiTokenDepartments)
      .innerJoin(departments, eq(departments.id, apiTokenDepartments.departmentId))
      .where(inArray(apiTokenDepartments.tokenId, rows.map((r) => r.id)))
      .orderBy(asc(departments.position), asc(departments.id))
      .all();
    return rows.map((row) => ({ ...row, departments: links.filter((l) => l.tokenId === row.id).map((l) => l.code) }));
  }

  return {
    insert(token) {
      return lock.run(() => {
        const { departmentIds, ...row } = token;
        const id = db.insert(apiTokens).values(row).returning({ id: apiTokens.id }).get().id;
        if (departmentIds.length) db.insert(apiTokenDepartments).values(departmentIds.map((departmentId) => ({ tokenId: id, departmentId }))).run();
        return id;
      });
    },
    async list() {
      return withDepartments(base().orderBy(desc(apiTokens.createdAt), desc(apiTokens.id)).all());
    },
    async find(id) {
      return withDepartments(base().where(eq(apiTokens.id, id)).all())[0] ?? null;
    },
    async findByHash(tokenHash) {
      return withDepartments(base().where(eq(apiTokens.tokenHash, tokenHash)).all())[0] ?? null;
    },
    revoke(id, at) {
      return lock.run(() => db.update(apiTokens).set({ revokedAt: at }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).run().changes > 0);
    },
    touch(id, at, notBefore) {
      return lock.run(() => {
        db.update(apiTokens)
          .set({ lastUsedAt: at })
          .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, notBefore))))
          .run();
      });
    },
    countRequest(id, windowStart, requests) {
      return lock.run(() => {
        const row = db
          .insert(apiTokenRequests)
          .values({ tokenId: id, windowStart, count: requests })
          .onConflictDoUpdate({ target: [apiTokenRequests.tokenId, apiTokenRequests.windowStart], set: { count: sql`${apiTokenRequests.count} + ${requests}` } })
          .returning({ count: apiTokenRequests.count })
          .get();
        if (row.count === requests) db.delete(apiTokenRequests).where(and(eq(apiTokenRequests.tokenId, id), lt(apiTokenRequests.windowStart, windowStart))).run();
        return row.count;
      });
    },
  };
}
