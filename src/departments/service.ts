import type { Actor } from '../audit/store.js';
import { UniqueViolation } from '../db/errors.js';
import type { Stores } from '../db/stores.js';
import { refreshSearchTexts } from '../smtp-servers/repository.js';
import { allRoutes, departmentWarnings, routeOf, warningOf, type DepartmentRoute, type DepartmentWarning, type RouteWarning } from './routing.js';
import type { Department } from './store.js';
import type { DepartmentValues } from './validation.js';

export class DuplicateCodeError extends Error {
  constructor(readonly code: string) {
    super(`a department already has the code "${code}"`);
  }
}

export type MoveDirection = 'up' | 'down';

export interface DepartmentOverview extends DepartmentRoute {
  warning: RouteWarning | null;
}

function withWarning(route: DepartmentRoute): DepartmentOverview {
  return { ...route, warning: warningOf(route) };
}

/** The departments and the order of their servers: adding, renaming, deactivating, moving a server up or down, the audit. */
export function createDepartmentRepository(stores: Stores, hooks: { departmentChanged?: (code: string) => void } = {}) {
  const changed = (code: string) => hooks.departmentChanged?.(code);
  async function servingIds(tx: Stores, departmentId: number): Promise<number[]> {
    return (await tx.departments.candidates(departmentId)).map((server) => server.id);
  }

  return {
    async listDepartments(): Promise<Department[]> {
      return stores.departments.list();
    },

    /** Every department with the server that would send now, its backups and what to warn about. */
    async overview(now = new Date()): Promise<DepartmentOverview[]> {
      return (await allRoutes(stores.departments, now)).map(withWarning);
    },

    /** The warnings only, for the server list: active departments with no usable server, or only one. */
    async warnings(now = new Date()): Promise<DepartmentWarning[]> {
      return departmentWarnings(stores.departments, now);
    },

    async route(code: string, now = new Date()): Promise<DepartmentOverview | null> {
      const route = await routeOf(stores.departments, code, now);
      return route && withWarning(route);
    },

    async createDepartment(input: DepartmentValues, actor: Actor): Promise<Department> {
      try {
        return await stores.transaction(async (tx) => {
          if (await tx.departments.findByCode(input.code)) throw new DuplicateCodeError(input.code);
          const department = await tx.departments.insert(input);
          await tx.audit.append(actor, { action: 'department.create', targetType: 'department', targetId: department.code, summary: department.name });
          // Servers in default usage serve it from now on, and are found by its name.
          await refreshSearchTexts(tx, await servingIds(tx, department.id));
          return department;
        });
      } catch (err) {
        if (err instanceof UniqueViolation) throw new DuplicateCodeError(input.code);
        throw err;
      }
    },

    /** null when no department has this code. */
    async renameDepartment(code: string, name: string, actor: Actor): Promise<Department | null> {
      const renamed = await stores.transaction(async (tx) => {
        const before = await tx.departments.findByCode(code);
        if (!before) return null;
        if (before.name === name) return before;
        await tx.departments.update(before.id, { name });
        await tx.audit.append(actor, { action: 'department.rename', targetType: 'department', targetId: code, summary: name, changes: { name: [before.name, name] } });
        await refreshSearchTexts(tx, await servingIds(tx, before.id));
        return { ...before, name };
      });
      changed(code);
      return renamed;
    },

    /** A deactivated department sends nothing and is not offered to servers; its links and its order are kept. */
    async setDepartmentActive(code: string, active: boolean, actor: Actor): Promise<Department | null> {
      const department = await stores.transaction(async (tx) => {
        const before = await tx.departments.findByCode(code);
        if (!before) return null;
        if (before.active === active) return before;
        await tx.departments.update(before.id, { active });
        await tx.audit.append(actor, {
          action: active ? 'department.activate' : 'department.deactivate',
          targetType: 'department',
          targetId: code,
          summary: before.name,
          changes: { active: [before.active, active] },
        });
        return { ...before, active };
      });
      changed(code);
      return department;
    },

    /**
     * Moves a server one place up or down in the department's order, read and written under the order's lock so two
     * moves at once each apply to the order the other left. 'missing': no such department or it does not serve it;
     * 'unchanged': already first (or last).
     */
    async moveServer(code: string, serverId: number, direction: MoveDirection, actor: Actor): Promise<'moved' | 'unchanged' | 'missing'> {
      return stores.transaction(async (tx) => {
        const department = await tx.departments.findByCode(code);
        if (!department) return 'missing';
        await tx.departments.lockOrder(department.id);
        const servers = await tx.departments.candidates(department.id);
        const from = servers.findIndex((server) => server.id === serverId);
        if (from === -1) return 'missing';
        const to = direction === 'up' ? from - 1 : from + 1;
        if (to < 0 || to >= servers.length) return 'unchanged';
        const order = servers.map((server) => server.id);
        [order[from], order[to]] = [order[to]!, order[from]!];
        await tx.departments.setOrder(department.id, order);
        await tx.audit.append(actor, {
          action: 'department.reorder',
          targetType: 'department',
          targetId: code,
          summary: `${department.name} : ${servers[from]!.title}`,
          changes: { position: [from + 1, to + 1] },
        });
        return 'moved';
      });
    },
  };
}

export type DepartmentRepository = ReturnType<typeof createDepartmentRepository>;
