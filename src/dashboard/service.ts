import type { Stores } from '../db/stores.js';
import { routeHeads, warningOf, type RouteWarning, type SkipReason } from '../departments/routing.js';
import type { Department } from '../departments/store.js';
import { certificateWarningOf, type CertificateWarning } from '../health-checks/certificates.js';
import { minuteOf } from '../outbox/rows.js';
import { bucketMiddle, dayMs, dayOf, hourMs, hourOf } from './latency.js';
import { outcomes, type Outcome, type ServerHealth } from './store.js';

export const chartHours = 48;
/** A department's servers shown on its card (in its order, the sending one always among them); its page lists them all. */
export const routeEntriesShown = 8;
export const latencyDays = 14;

export type Counts = Record<Outcome, number>;
export type ServerState = 'ok' | 'down' | 'unconfirmed' | 'inactive';

export interface RouteEntry {
  id: number;
  title: string;
  state: ServerState;
  /** sending: the one that sends now; backup: the next ones in order; skipped: serves it but would not be used now. */
  role: 'sending' | 'backup' | 'skipped';
  /** What the scheduled checks flag about its certificate (expiring, expired, issuer changed); null: nothing. */
  certificate: CertificateWarning | null;
}

export interface DepartmentPanel {
  department: Department;
  warning: RouteWarning | null;
  servers: RouteEntry[];
  /** Servers that serve it beyond those shown (see routeEntriesShown). */
  moreServers: number;
  /** Messages accepted since `daySince` (24 h) and `weekSince` (7 days), by what became of them. */
  day: Counts;
  week: Counts;
  /** The last message one of its servers took (any department's). */
  lastSuccessAt: Date | null;
  /** Per hour of the chart (oldest first), its counts. */
  hours: { hour: Date; counts: Counts }[];
}

export interface LatencyDay {
  day: Date;
  delivered: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface Dashboard {
  now: Date;
  /** Start of the 24 h and 7 day windows (whole hours, as the counts are kept), for the send log's `since`. */
  daySince: Date;
  weekSince: Date;
  departments: DepartmentPanel[];
  servers: (ServerHealth & { state: ServerState; certificateValidTo: Date | null; certificate: CertificateWarning | null })[];
  /** The chart's hours, oldest first. */
  hours: Date[];
  latency: LatencyDay[];
}

const zero = (): Counts => ({ accepted: 0, sent: 0, retried: 0, failed: 0 });

export function stateOf(skip: SkipReason | null): ServerState {
  return skip ?? 'ok';
}

/** Everything the dashboard shows, read from the kept counts and the routing: never from the log's rows. */
export async function dashboardOf(stores: Stores, now = new Date()): Promise<Dashboard> {
  const currentHour = hourOf(now);
  const daySince = new Date(currentHour - 23 * hourMs);
  const weekSince = new Date(currentHour - (7 * 24 - 1) * hourMs);
  const chartSince = currentHour - (chartHours - 1) * hourMs;
  const latencySince = new Date(dayOf(now) - (latencyDays - 1) * dayMs);
  const [routes, series, totals, latency] = await Promise.all([
    routeHeads(stores.departments, routeEntriesShown, now),
    stores.dashboard.hourSeries(new Date(chartSince)),
    stores.dashboard.totals(daySince, weekSince),
    stores.dashboard.latencyQuantiles(latencySince),
  ]);

  const serverIds = [...new Set(routes.flatMap((route) => route.servers.map((server) => server.id)))];
  const [healthRows, certificates] = await Promise.all([stores.dashboard.servers(serverIds, minuteOf(now)), stores.healthChecks.certificatesOf(serverIds)]);
  const health = new Map(healthRows.map((row) => [row.id, row]));
  const certificateOf = (id: number) => certificateWarningOf(certificates.get(id), now);
  const hours = Array.from({ length: chartHours }, (_, i) => new Date(chartSince + i * hourMs));

  // The store gives one row per department and hour that has any count: each lands in its slot of the chart.
  const slotsOf = new Map<string, Counts[]>();
  for (const row of series) {
    const slot = (row.hour - chartSince) / hourMs;
    if (slot < 0 || slot >= chartHours || !Number.isInteger(slot)) continue;
    let slots = slotsOf.get(row.department);
    if (!slots) slotsOf.set(row.department, (slots = hours.map(zero)));
    const counts = slots[slot]!;
    counts.accepted += row.accepted;
    counts.sent += row.sent;
    counts.retried += row.retried;
    counts.failed += row.failed;
  }

  const departments = routes.map((route): DepartmentPanel => {
    const sendingId = route.usable[0]?.id;
    const servers = route.servers.map((server): RouteEntry => ({
      id: server.id,
      title: server.title,
      state: stateOf(server.skip),
      role: server.id === sendingId ? 'sending' : route.department.active && server.skip === null ? 'backup' : 'skipped',
      certificate: certificateOf(server.id),
    }));
    const day = zero();
    const week = zero();
    for (const total of totals) {
      if (total.department !== route.department.code) continue;
      day[total.outcome] += total.day;
      week[total.outcome] += total.week;
    }
    const slots = slotsOf.get(route.department.code) ?? hours.map(zero);
    const successes = servers.map((server) => health.get(server.id)?.lastSuccessAt?.getTime() ?? 0);
    const last = Math.max(0, ...successes);
    return {
      department: route.department,
      warning: warningOf(route),
      servers,
      moreServers: route.total - servers.length,
      day,
      week,
      lastSuccessAt: last > 0 ? new Date(last) : null,
      hours: hours.map((hour, i) => ({ hour, counts: slots[i]! })),
    };
  });

  const byDay = new Map(latency.map((row) => [row.day.getTime(), row]));
  const latencyDaysList = Array.from({ length: latencyDays }, (_, i): LatencyDay => {
    const day = latencySince.getTime() + i * dayMs;
    const row = byDay.get(day);
    const ms = (bucket: number | null | undefined) => (bucket === null || bucket === undefined ? null : bucketMiddle(bucket));
    return { day: new Date(day), delivered: row?.delivered ?? 0, p50Ms: ms(row?.p50Bucket), p95Ms: ms(row?.p95Bucket) };
  });

  const skipOf = new Map(routes.flatMap((route) => route.servers.map((server) => [server.id, server.skip] as const)));
  const servers = serverIds.flatMap((id) => {
    const row = health.get(id);
    return row ? [{ ...row, state: stateOf(skipOf.get(id) ?? null), certificateValidTo: certificates.get(id)?.validTo ?? null, certificate: certificateOf(id) }] : [];
  });

  return { now, daySince, weekSince, departments, servers, hours, latency: latencyDaysList };
}

export { outcomes };
