import type { KeptCertificate } from '../health-checks/store.js';
import type { MetricsSnapshot } from './store.js';

type Labels = Record<string, string>;

/** A label value as the text format wants it: backslash, double quote and line feed escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(name: string, type: 'gauge' | 'counter', help: string, samples: { labels?: Labels; value: number }[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const sample of samples) {
    const labels = Object.entries(sample.labels ?? {});
    const rendered = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    lines.push(`${name}${rendered} ${Number.isFinite(sample.value) ? sample.value : 0}`);
  }
  return lines.join('\n');
}

/** The Prometheus text exposition (version 0.0.4) of what the stores hold now. */
export function renderMetrics(snapshot: MetricsSnapshot, now: Date, certificates: ReadonlyMap<number, KeptCertificate> = new Map()): string {
  const titles = new Map(snapshot.servers.map((s) => [s.id, s.title]));
  const serverLabels = (id: number | null): Labels => ({ server_id: id === null ? '' : String(id), server: id === null ? '' : (titles.get(id) ?? '') });
  const seconds = (date: Date) => Math.round(date.getTime() / 1000);
  const parts = [
    family(
      'relais_messages',
      'gauge',
      'Messages in the outbox by status and department.',
      snapshot.messages.map((row) => ({ labels: { status: row.status, department: row.department }, value: row.count })),
    ),
    family(
      'relais_attempts_total',
      'counter',
      'Delivery attempts by server and outcome (sent, failover, deferred, failed).',
      snapshot.attempts.map((row) => ({ labels: { ...serverLabels(row.serverId), outcome: row.outcome }, value: row.count })),
    ),
    family('relais_queue_depth', 'gauge', 'Messages waiting to be sent or being sent (queued, retry, sending).', [{ value: snapshot.queue.depth }]),
    family('relais_queue_oldest_age_seconds', 'gauge', 'Age of the oldest message still waiting, 0 when none waits.', [
      { value: snapshot.queue.oldestAcceptedAt ? Math.max(0, Math.round((now.getTime() - snapshot.queue.oldestAcceptedAt.getTime()) / 1000)) : 0 },
    ]),
    family(
      'relais_server_last_check_success',
      'gauge',
      'Result of the last connection test of each server: 1 ok, 0 failed (absent: never tested).',
      snapshot.servers.filter((s) => s.lastTestOk !== null).map((s) => ({ labels: serverLabels(s.id), value: s.lastTestOk ? 1 : 0 })),
    ),
    family(
      'relais_server_last_check_timestamp_seconds',
      'gauge',
      'When each server was last tested (Unix time).',
      snapshot.servers.filter((s) => s.lastTestAt !== null).map((s) => ({ labels: serverLabels(s.id), value: seconds(s.lastTestAt!) })),
    ),
    family(
      'relais_server_down',
      'gauge',
      'Whether each active server is « en panne » now (skipped by the routing after failures in a row): 1 or 0.',
      snapshot.servers.filter((s) => s.active).map((s) => ({ labels: serverLabels(s.id), value: s.downUntil && s.downUntil.getTime() > now.getTime() ? 1 : 0 })),
    ),
    family(
      'relais_server_certificate_expiry_days',
      'gauge',
      'Days left before the certificate the scheduled checks last saw expires (negative once expired; absent: none seen).',
      snapshot.servers
        .filter((s) => s.active && certificates.get(s.id)?.validTo)
        .map((s) => ({ labels: serverLabels(s.id), value: Math.floor(((certificates.get(s.id)!.validTo!.getTime() - now.getTime()) / 86_400_000) * 10) / 10 })),
    ),
    family('relais_servers_down', 'gauge', 'Active servers « en panne » now.', [
      { value: snapshot.servers.filter((s) => s.active && s.downUntil && s.downUntil.getTime() > now.getTime()).length },
    ]),
  ];
  return `${parts.join('\n')}\n`;
}
