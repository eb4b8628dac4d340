import { and, asc, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { ApiTokenRow, ApiTokenStore } from '../../api-tokens/store.js';
import { apiTokenDepartments, apiTokenRequests, apiTokens, departments, users } from './schema.js';
import type { PgExecutor } from './stores.js';

export function createPostgresApiTokenStore(db: PgExecutor): ApiTokenStore {
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

  async function withDepartments(rows: Omit<ApiTokenRow, 'departments'>[]): Promise<ApiTokenRow[]> {
    if (rows.length === 0) return [];
    const links = await db
      .select({ tokenId: apiTokenDepartments.tokenId, code: departments.code })
      .from(apiTokenDepartments)
      .innerJoin(departments, eq(departments.id, apiTokenDepartments.departmentId))
      .where(inArray(apiTokenDepartments.tokenId, rows.map((r) => r.id)))
      .orderBy(asc(departments.position), asc(departments.id));
    return rows.map((row) => ({ ...row, departments: links.filter((l) => l.tokenId === row.id).map((l) => l.code) }));
  }

  return {
    async insert(token) {
      const { departmentIds, ...row } = token;
      const [inserted] = await db.insert(apiTokens).values(row).returning({ id: apiTokens.id });
      const id = inserted!.id;
      if (departmentIds.length) await db.insert(apiTokenDepartments).values(departmentIds.map((departmentId) => ({ tokenId: id, departmentId })));
      return id;
    },
    async list() {
      return withDepartments(await base().orderBy(desc(apiTokens.createdAt), desc(apiTokens.id)));
    },
    async find(id) {
      return (await withDepartments(await base().where(eq(apiTokens.id, id))))[0] ?? null;
    },
    async findByHash(tokenHash) {
      return (await withDepartments(await base().where(eq(apiTokens.tokenHash, tokenHash))))[0] ?? null;
    },
    async revoke(id, at) {
      const rows = await db
        .update(apiTokens)
        .set({ revokedAt: at })
        .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
        .returning({ id: apiTokens.id });
      return rows.length > 0;
    },
    async touch(id, at, notBefore) {
      await db
        .update(apiTokens)
        .set({ lastUsedAt: at })
        .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, notBefore))));
    },
    async countRequest(id, windowStart, requests) {
      const [row] = await db
        .insert(apiTokenRequests)
        .values({ tokenId: id, windowStart, count: requests })
        .onConflictDoUpdate({ target: [apiTokenRequests.tokenId, apiTokenRequests.windowStart], set: { count: sql`${apiTokenRequests.count} + ${requests}::integer` } })
        .returning({ count: apiTokenRequests.count });
      if (row!.count === requests) await db.delete(apiTokenRequests).where(and(eq(apiTokenRequests.tokenId, id), lt(apiTokenRequests.windowStart, windowStart)));
      return row!.count;
    },
  };
}
