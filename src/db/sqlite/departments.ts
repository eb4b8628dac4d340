import { and, asc, eq, inArray, max, sql } from 'drizzle-orm';
import type { DepartmentCandidate, DepartmentStore } from '../../departments/store.js';
import { UniqueViolation } from '../errors.js';
import type { Db } from './client.js';
import { isUniqueViolation } from './errors.js';
import { departments, departmentServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

type CandidateRow = Omit<DepartmentCandidate, 'active' | 'downUntil'> & { active: number; downUntil: number | null };

const serving = (departmentId: number) =>
  sql`(s.usage = 'default' OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId}))`;

export function createSqliteDepartmentStore(db: Db, lock: WriteLock): DepartmentStore {
  /**
   * The department's first `limit` candidates in its order (those usable at `usableAt` only, when given): the placed
   * ones by position, then the others by id; two walks of an index that stop at `limit`, instead of sorting them all.
   */
  function firstCandidates(departmentId: number, limit: number, usableAt: Date | null): DepartmentCandidate[] {
    const usable = usableAt
      ? sql`AND s.active = 1 AND s.confirmation_status = 'confirmed' AND (s.down_until IS NULL OR s.down_until <= ${usableAt.getTime()})`
      : sql``;
    const placed = db.all<CandidateRow>(sql`
      SELECT s.id, s.title, s.email, s.active, s.confirmation_status AS confirmationStatus, s.down_until AS downUntil, o.position
      FROM department_servers o JOIN smtp_servers s ON s.id = o.server_id
      WHERE o.department_id = ${departmentId} AND ${serving(departmentId)} ${usable}
      ORDER BY o.position
      LIMIT ${limit}`);
    const unplaced =
      placed.length >= limit
        ? []
        : db.all<CandidateRow>(sql`
            SELECT s.id, s.title, s.email, s.active, s.confirmation_status AS confirmationStatus, s.down_until AS downUntil, NULL AS position
            FROM smtp_servers s
            WHERE ${serving(departmentId)} ${usable}
              AND NOT EXISTS (SELECT 1 FROM department_servers o WHERE o.department_id = ${departmentId} AND o.server_id = s.id)
            ORDER BY s.id
            LIMIT ${limit - placed.length}`);
    return [...placed, ...unplaced].map((row) => ({ ...row, active: Boolean(row.active), downUntil: row.downUntil === null ? null : new Date(row.downUntil) }));
  }

  return {
    async list() {
      return db.select().from(departments).orderBy(asc(departments.position), asc(departments.id)).all();
    },

    async findByCode(code) {
      return db.select().from(departments).where(eq(departments.code, code)).get() ?? null;
    },

    async candidates(departmentId) {
      const rows = db.all<CandidateRow>(sql`
        SELECT s.id, s.title, s.email, s.active, s.confirmation_status AS confirmationStatus, s.down_until AS downUntil, o.position
        FROM smtp_servers s
        LEFT JOIN department_servers o ON o.server_id = s.id AND o.department_id = ${departmentId}
        WHERE s.usage = 'default'
           OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId})
        ORDER BY o.position IS NULL, o.position, s.id`);
      return rows.map((row) => ({ ...row, active: Boolean(row.active), downUntil: row.downUntil === null ? null : new Date(row.downUntil) }));
    },

    async usableCandidates(departmentId, now, limit) {
      return firstCandidates(departmentId, limit, now);
    },

    async firstCandidates(departmentId, limit) {
      return firstCandidates(departmentId, limit, null);
    },

    async candidateCount(departmentId) {
      return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM smtp_servers s WHERE ${serving(departmentId)}`)?.n ?? 0;
    },

    async setOrder(departmentId, serverIds) {
      await lock.run(() => {
        db.delete(departmentServers).where(eq(departmentServers.departmentId, departmentId)).run();
        if (serverIds.length) db.insert(departmentServers).values(serverIds.map((serverId, i) => ({ departmentId, serverId, position: i + 1 }))).run();
      });
    },

    // A transaction on SQLite holds the write lock from its BEGIN IMMEDIATE: nobody else writes meanwhile.
    async lockOrder() {},

    async appendServer(departmentId, serverId) {
      await lock.run(() => {
        const placed = db.select({ position: departmentServers.position }).from(departmentServers)
          .where(and(eq(departmentServers.departmentId, departmentId), eq(departmentServers.serverId, serverId))).get();
        if (placed) return;
        const last = () => db.select({ n: max(departmentServers.position) }).from(departmentServers).where(eq(departmentServers.departmentId, departmentId)).get()?.n ?? 0;
        db.run(sql`
          INSERT INTO department_servers (department_id, server_id, position)
          SELECT ${departmentId}, s.id, ${last()} + row_number() OVER (ORDER BY s.id)
          FROM smtp_servers s
          WHERE s.id <> ${serverId}
            AND (s.usage = 'default' OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = ${departmentId}))
            AND NOT EXISTS (SELECT 1 FROM department_servers o WHERE o.department_id = ${departmentId} AND o.server_id = s.id)`);
        db.insert(departmentServers).values({ departmentId, serverId, position: last() + 1 }).run();
      });
    },

    async dropServer(serverId, departmentIds) {
      if (departmentIds.length === 0) return;
      await lock.run(() =>
        db.delete(departmentServers).where(and(eq(departmentServers.serverId, serverId), inArray(departmentServers.departmentId, [...departmentIds]))).run(),
      );
    },

    async insert(department) {
      return lock.run(() => {
        const position = (db.select({ n: max(departments.position) }).from(departments).get()?.n ?? 0) + 1;
        try {
          return db.insert(departments).values({ ...department, position }).returning().get();
        } catch (err) {
          if (isUniqueViolation(err)) throw new UniqueViolation('code', err);
          throw err;
        }
      });
    },

    async update(id, changes) {
      return lock.run(() => db.update(departments).set(changes).where(eq(departments.id, id)).run().changes === 1);
    },
  };
}
