import { and, eq, inArray, max, sql, type SQL } from 'drizzle-orm';
import type { Department, DepartmentCandidate, DepartmentStore } from '../../departments/store.js';
import { UniqueViolation } from '../errors.js';
import { isUniqueViolation } from './errors.js';
import { departments, departmentServers } from './schema.js';
import { runNamed } from './named-statements.js';
import type { PgExecutor } from './stores.js';

type CandidateRow = Omit<DepartmentCandidate, 'downUntil'> & { downUntil: string | number | null; part?: number };

// OFFSET 0 keeps the EXISTS a lookup per server read: without it PostgreSQL hashes every link of the department first
// (3,000 of them over 10,000 servers: 1.2 ms of the 1.3 ms a department's first two usable servers took).
const serving = (departmentId: number | SQL) =>
  sql`(s.usage = 'default' OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId} OFFSET 0))`;

const usableAtSql = (at: Date) => sql`AND s.active AND s.confirmation_status = 'confirmed' AND (s.down_until IS NULL OR s.down_until <= ${at.getTime()})`;

/**
 * The department's first `limit` candidates in its order (those usable, when `usable` says so): the placed ones by
 * position, then the others by id; two walks of an index that stop at `limit`, instead of sorting them all.
 */
const firstCandidatesSql = (departmentId: number | SQL, limit: number, usable: SQL) => sql`
  (SELECT s.id, s.title, s.email, s.active, s.confirmation_status AS "confirmationStatus", s.down_until AS "downUntil", o.position, 0 AS part
   FROM department_servers o JOIN smtp_servers s ON s.id = o.server_id
   WHERE o.department_id = ${departmentId} AND ${serving(departmentId)} ${usable}
   ORDER BY o.position
   LIMIT ${limit})
  UNION ALL
  (SELECT s.id, s.title, s.email, s.active, s.confirmation_status, s.down_until, NULL, 1
   FROM smtp_servers s
   WHERE ${serving(departmentId)} ${usable}
     AND NOT EXISTS (SELECT 1 FROM department_servers o WHERE o.department_id = ${departmentId} AND o.server_id = s.id)
   ORDER BY s.id
   LIMIT ${limit})
  ORDER BY part, position NULLS LAST, id
  LIMIT ${limit}`;

const candidateOf = ({ part: _part, ...row }: CandidateRow): DepartmentCandidate => ({
  ...row,
  downUntil: row.downUntil === null ? null : new Date(Number(row.downUntil)),
});

/** Servers in default usage, plus the others linked to the department: two counts, no subquery per server. */
const countServing = (departmentId: number) => sql`SELECT (SELECT count(*) FROM smtp_servers WHERE usage = 'default')
  + (SELECT count(*) FROM smtp_server_departments l
     WHERE l.department_id = ${departmentId} AND l.server_id NOT IN (SELECT id FROM smtp_servers WHERE usage = 'default'))`;

/** Every department in display order; by name: the lists read them at every view. */
async function listDepartments(db: PgExecutor): Promise<Department[]> {
  return (await runNamed<Department>(db, sql`SELECT id, code, name, position, active FROM departments ORDER BY position, id`)).rows;
}

export function createPostgresDepartmentStore(db: PgExecutor): DepartmentStore {
  async function firstCandidates(departmentId: number, limit: number, usableAt: Date | null): Promise<DepartmentCandidate[]> {
    const { rows } = await runNamed<CandidateRow>(db, firstCandidatesSql(departmentId, limit, usableAt ? usableAtSql(usableAt) : sql``));
    return rows.map(candidateOf);
  }

  return {
    async list() {
      return listDepartments(db);
    },

    async findByCode(code) {
      const [row] = await db.select().from(departments).where(eq(departments.code, code));
      return row ?? null;
    },

    async candidates(departmentId) {
      const { rows } = await db.execute<CandidateRow>(sql`
        SELECT s.id, s.title, s.email, s.active, s.confirmation_status AS "confirmationStatus", s.down_until AS "downUntil", o.position
        FROM smtp_servers s
        LEFT JOIN department_servers o ON o.server_id = s.id AND o.department_id = ${departmentId}
        WHERE s.usage = 'default'
           OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId})
        ORDER BY o.position NULLS LAST, s.id`);
      return rows.map((row) => ({ ...row, downUntil: row.downUntil === null ? null : new Date(Number(row.downUntil)) }));
    },

    async usableCandidates(departmentId, now, limit) {
      return firstCandidates(departmentId, limit, now);
    },

    async activeWithUsable(now, limit) {
      // One statement: the departments, and each one's walk as above with the department taken from the row.
      type Row = { departmentId: number; code: string; name: string; departmentPosition: number } & { [K in keyof CandidateRow]: CandidateRow[K] | null };
      const { rows } = await runNamed<Row>(db, sql`
        SELECT d.id AS "departmentId", d.code, d.name, d.position AS "departmentPosition", c.*
        FROM departments d
        LEFT JOIN LATERAL (${firstCandidatesSql(sql`d.id`, limit, usableAtSql(now))}) c ON true
        WHERE d.active
        ORDER BY d.position, d.id, c.part, c.position NULLS LAST, c.id`);
      const found: { department: Department; usable: DepartmentCandidate[] }[] = [];
      for (const { departmentId, code, name, departmentPosition, ...candidate } of rows) {
        if (found.at(-1)?.department.id !== departmentId) found.push({ department: { id: departmentId, code, name, position: departmentPosition, active: true }, usable: [] });
        if (candidate.id !== null) found.at(-1)!.usable.push(candidateOf(candidate as CandidateRow));
      }
      return found;
    },

    async firstCandidates(departmentId, limit) {
      return firstCandidates(departmentId, limit, null);
    },

    async candidateCount(departmentId) {
      const { rows } = await db.execute<{ n: string | number }>(sql`${countServing(departmentId)} AS n`);
      return Number(rows[0]?.n ?? 0);
    },

    async setOrder(departmentId, serverIds) {
      await db.delete(departmentServers).where(eq(departmentServers.departmentId, departmentId));
      if (serverIds.length) await db.insert(departmentServers).values(serverIds.map((serverId, i) => ({ departmentId, serverId, position: i + 1 })));
    },

    async lockOrder(departmentId) {
      await db.execute(sql`SELECT id FROM departments WHERE id = ${departmentId} FOR NO KEY UPDATE`);
    },

    async appendServer(departmentId, serverId) {
      await db.execute(sql`SELECT id FROM departments WHERE id = ${departmentId} FOR NO KEY UPDATE`);
      const [placed] = await db.select({ position: departmentServers.position }).from(departmentServers)
        .where(and(eq(departmentServers.departmentId, departmentId), eq(departmentServers.serverId, serverId)));
      if (placed) return;
      const last = async () => (await db.select({ n: max(departmentServers.position) }).from(departmentServers).where(eq(departmentServers.departmentId, departmentId)))[0]?.n ?? 0;
      await db.execute(sql`
        INSERT INTO department_servers (department_id, server_id, position)
        SELECT ${departmentId}, s.id, ${await last()} + row_number() OVER (ORDER BY s.id)
        FROM smtp_servers s
        WHERE s.id <> ${serverId}
          AND (s.usage = 'default' OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId}))
          AND NOT EXISTS (SELECT 1 FROM department_servers o WHERE o.department_id = ${departmentId} AND o.server_id = s.id)`);
      await db.insert(departmentServers).values({ departmentId, serverId, position: (await last()) + 1 });
    },

    async dropServer(serverId, departmentIds) {
      if (departmentIds.length === 0) return;
      await db.delete(departmentServers).where(and(eq(departmentServers.serverId, serverId), inArray(departmentServers.departmentId, [...departmentIds])));
    },

    async insert(department) {
      try {
        // The next position is read and written in one statement.
        const [row] = await db
          .insert(departments)
          .values({ ...department, position: sql`(SELECT coalesce(max(position), 0) + 1 FROM departments)` })
          .returning();
        return row!;
      } catch (err) {
        if (isUniqueViolation(err)) throw new UniqueViolation('code', err);
        throw err;
      }
    },

    async update(id, changes) {
      const rows = await db.update(departments).set(changes).where(eq(departments.id, id)).returning({ id: departments.id });
      return rows.length === 1;
    },
  };
}
