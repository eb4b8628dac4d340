import { asc, eq, sql } from 'drizzle-orm';
import type { DepartmentCandidate, DepartmentStore } from '../../departments/store.js';
import type { Db } from './client.js';
import { departments, departmentServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

type CandidateRow = Omit<DepartmentCandidate, 'active' | 'downUntil'> & { active: number; downUntil: number | null };

export function createSqliteDepartmentStore(db: Db, lock: WriteLock): DepartmentStore {
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

    async setOrder(departmentId, serverIds) {
      await lock.run(() => {
        db.delete(departmentServers).where(eq(departmentServers.departmentId, departmentId)).run();
        if (serverIds.length) db.insert(departmentServers).values(serverIds.map((serverId, i) => ({ departmentId, serverId, position: i + 1 }))).run();
      });
    },
  };
}
