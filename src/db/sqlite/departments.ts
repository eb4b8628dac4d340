import { and, eq, inArray, max, sql } from 'drizzle-orm';
import type { Department, DepartmentCandidate, DepartmentStore } from '../../departments/store.js';
import { UniqueViolation } from '../errors.js';
import type Database from 'better-sqlite3';
import type { Db } from './client.js';
import { isUniqueViolation } from './errors.js';
import { departments, departmentServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

type CandidateRow = Omit<DepartmentCandidate, 'active' | 'downUntil'> & { active: number; downUntil: number | null };

const servingSql = `(s.usage = 'default' OR EXISTS (SELECT 1 FROM smtp_server_departments l WHERE l.server_id = s.id AND l.department_id = @department))`;
const usableSql = `AND s.active = 1 AND s.confirmation_status = 'confirmed' AND (s.down_until IS NULL OR s.down_until <= @now)`;
const columnsSql = `s.id, s.title, s.email, s.active, s.confirmation_status AS confirmationStatus, s.down_until AS downUntil`;

/** Every department in display order, from a statement prepared once: the lists read them at each request. */
export function departmentLister(sqlite: Database.Database): () => Department[] {
  const statement = sqlite.prepare<[], Omit<Department, 'active'> & { active: number }>('SELECT id, code, name, position, active FROM departments ORDER BY position, id');
  return () => statement.all().map((row) => ({ ...row, active: row.active === 1 }));
}

export function createSqliteDepartmentStore(db: Db, sqlite: Database.Database, lock: WriteLock): DepartmentStore {
  const listDepartments = departmentLister(sqlite);
  const departmentByCode = sqlite.prepare<[string], Omit<Department, 'active'> & { active: number }>('SELECT id, code, name, position, active FROM departments WHERE code = ?');
  // Prepared once: for these short reads, preparing cost more than running them (the pages ask for them at each view).
  // `@limit + 0`: SQLite plans again at each run a statement whose LIMIT is a bare parameter.
  const walks = [false, true].map((usable) => ({
    placed: sqlite.prepare<{ department: number; limit: number; now?: number }, CandidateRow>(`
      SELECT ${columnsSql}, o.position
      FROM department_servers o JOIN smtp_servers s ON s.id = o.server_id
      WHERE o.department_id = @department AND ${servingSql} ${usable ? usableSql : ''}
      ORDER BY o.position
      LIMIT @limit + 0`),
    unplaced: sqlite.prepare<{ department: number; limit: number; now?: number }, CandidateRow>(`
      SELECT ${columnsSql}, NULL AS position
      FROM smtp_servers s
      WHERE ${servingSql} ${usable ? usableSql : ''}
        AND NOT EXISTS (SELECT 1 FROM department_servers o WHERE o.department_id = @department AND o.server_id = s.id)
      ORDER BY s.id
      LIMIT @limit + 0`),
  }));
  // Servers in default usage, plus the others linked to the department: two counts read from indexes, no server row read.
  const countServing = sqlite.prepare<{ department: number }, { n: number }>(`
    SELECT (SELECT count(*) FROM smtp_servers WHERE usage = 'default')
      + (SELECT count(*) FROM smtp_server_departments l
         WHERE l.department_id = @department AND l.server_id NOT IN (SELECT id FROM smtp_servers WHERE usage = 'default')) AS n`);

  /**
   * The department's first `limit` candidates in its order (those usable at `usableAt` only, when given): the placed
   * ones by position, then the others by id; two walks of an index that stop at `limit`, instead of sorting them all.
   */
  function firstCandidates(departmentId: number, limit: number, usableAt: Date | null): DepartmentCandidate[] {
    const walk = walks[usableAt ? 1 : 0]!;
    const params = { department: departmentId, limit, ...(usableAt ? { now: usableAt.getTime() } : {}) };
    const placed = walk.placed.all(params);
    const unplaced = placed.length >= limit ? [] : walk.unplaced.all({ ...params, limit: limit - placed.length });
    return [...placed, ...unplaced].map((row) => ({ ...row, active: Boolean(row.active), downUntil: row.downUntil === null ? null : new Date(row.downUntil) }));
  }

  return {
    async list() {
      return listDepartments();
    },

    async findByCode(code) {
      const row = departmentByCode.get(code);
      return row ? { ...row, active: row.active === 1 } : null;
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

    async activeWithUsable(now, limit) {
      return listDepartments()
        .filter((department) => department.active)
        .map((department) => ({ department, usable: firstCandidates(department.id, limit, now) }));
    },

    async firstCandidates(departmentId, limit) {
      return firstCandidates(departmentId, limit, null);
    },

    async candidateCount(departmentId) {
      return countServing.get({ department: departmentId })?.n ?? 0;
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
