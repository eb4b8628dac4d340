import { asc, eq, sql } from 'drizzle-orm';
import type { DepartmentCandidate, DepartmentStore } from '../../departments/store.js';
import { departments, departmentServers } from './schema.js';
import type { PgExecutor } from './stores.js';

type CandidateRow = Omit<DepartmentCandidate, 'downUntil'> & { downUntil: string | number | null };

export function createPostgresDepartmentStore(db: PgExecutor): DepartmentStore {
  return {
    async list() {
      return db.select().from(departments).orderBy(asc(departments.position), asc(departments.id));
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

    async setOrder(departmentId, serverIds) {
      await db.delete(departmentServers).where(eq(departmentServers.departmentId, departmentId));
      if (serverIds.length) await db.insert(departmentServers).values(serverIds.map((serverId, i) => ({ departmentId, serverId, position: i + 1 })));
    },
  };
}
