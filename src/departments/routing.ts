import type { Department, DepartmentCandidate, DepartmentStore } from './store.js';

/** Why a server that serves a department would not send its mail now, in the order these are checked. */
export type SkipReason = 'inactive' | 'unconfirmed' | 'down';

export interface RoutedServer extends DepartmentCandidate {
  /** null when it would be used: the first such one sends, the next ones are its backups. */
  skip: SkipReason | null;
}

export interface DepartmentRoute {
  department: Department;
  /** Every server that serves the department, in its order, each with why it is skipped (if it is). */
  servers: RoutedServer[];
  /** The servers that would be tried, in order; empty when the department itself is deactivated. */
  usable: RoutedServer[];
}

export function skipReasonOf(server: Pick<DepartmentCandidate, 'active' | 'confirmationStatus' | 'downUntil'>, now: Date): SkipReason | null {
  if (!server.active) return 'inactive';
  if (server.confirmationStatus !== 'confirmed') return 'unconfirmed';
  if (server.downUntil && server.downUntil.getTime() > now.getTime()) return 'down';
  return null;
}

/** How a department's mail would be routed now; null for a code no department has. */
export async function routeOf(departments: DepartmentStore, code: string, now = new Date()): Promise<DepartmentRoute | null> {
  const department = await departments.findByCode(code);
  if (!department) return null;
  const servers = (await departments.candidates(department.id)).map((server) => ({ ...server, skip: skipReasonOf(server, now) }));
  return { department, servers, usable: department.active ? servers.filter((server) => server.skip === null) : [] };
}

/** The servers that would send a department's mail now, primary first; none for an unknown or deactivated department. */
export async function serversFor(departments: DepartmentStore, code: string, now = new Date()): Promise<RoutedServer[]> {
  return (await routeOf(departments, code, now))?.usable ?? [];
}

/** What a department's page and the server list warn about: nothing would send its mail, or nothing would back it up. */
export type RouteWarning = 'noServer' | 'noBackup';

/** null for a deactivated department: it sends nothing, on purpose. */
export function warningOf(route: DepartmentRoute): RouteWarning | null {
  if (!route.department.active) return null;
  if (route.usable.length === 0) return 'noServer';
  if (route.usable.length === 1) return 'noBackup';
  return null;
}

/** A department's warning as the lists show it: the first servers it would use (two at most), read without the others. */
export interface DepartmentWarning {
  department: Department;
  usable: RoutedServer[];
  warning: RouteWarning;
}

/** The active departments with no usable server, or only one, in display order; their first two usable servers read at once. */
export async function departmentWarnings(departments: DepartmentStore, now = new Date()): Promise<DepartmentWarning[]> {
  const warnings: DepartmentWarning[] = [];
  for (const { department, usable: candidates } of await departments.activeWithUsable(now, 2)) {
    const usable = candidates.map((server) => ({ ...server, skip: null }));
    const warning = warningOf({ department, servers: usable, usable });
    if (warning) warnings.push({ department, usable, warning });
  }
  return warnings;
}

/** The start of a department's route, as the dashboard shows it, read without the servers further down its order. */
export interface RouteHead {
  department: Department;
  /** Its first servers in order, each with why it is skipped; the one that sends now always among them (last if it came later). */
  servers: RoutedServer[];
  /** How many servers serve it in all. */
  total: number;
  /** The first two it would use now (empty for a deactivated department): enough for its warning. */
  usable: RoutedServer[];
}

export async function routeHeads(departments: DepartmentStore, limit: number, now = new Date()): Promise<RouteHead[]> {
  const heads: RouteHead[] = [];
  for (const department of await departments.list()) {
    const servers: RoutedServer[] = (await departments.firstCandidates(department.id, limit)).map((server) => ({ ...server, skip: skipReasonOf(server, now) }));
    const usable: RoutedServer[] = department.active ? (await departments.usableCandidates(department.id, now, 2)).map((server) => ({ ...server, skip: null })) : [];
    const total = servers.length < limit ? servers.length : await departments.candidateCount(department.id);
    const sending = usable[0];
    if (sending && !servers.some((server) => server.id === sending.id)) servers[servers.length - 1] = sending;
    heads.push({ department, servers, total, usable });
  }
  return heads;
}

/** Every department's route now, in display order. */
export async function allRoutes(departments: DepartmentStore, now = new Date()): Promise<DepartmentRoute[]> {
  const routes = [];
  for (const department of await departments.list()) {
    const servers = (await departments.candidates(department.id)).map((server) => ({ ...server, skip: skipReasonOf(server, now) }));
    routes.push({ department, servers, usable: department.active ? servers.filter((server) => server.skip === null) : [] });
  }
  return routes;
}

/**
 * The active departments this server alone would send for now, and that a change would leave with no usable server:
 * every one of them when it is deactivated or deleted, those it no longer serves when its usage changes.
 */
export async function departmentsLeftWithout(
  departments: DepartmentStore,
  serverId: number,
  stillServes: (department: Department) => boolean = () => false,
  now = new Date(),
): Promise<Department[]> {
  return (await allRoutes(departments, now))
    .filter((route) => route.usable.length === 1 && route.usable[0]!.id === serverId && !stillServes(route.department))
    .map((route) => route.department);
}
