import type { Stores } from '../db/stores.js';
import { certificateWarningOf, type CertificateThreshold } from '../health-checks/certificates.js';
import type { AlertKind, AlertParams, NewAlertEvent } from './store.js';

/** A subject as a watch sees it now, and what a change from another state means. */
export interface Observation {
  subject: string;
  state: string;
  /** The event for a change from `previous` to `state`; null when that change is not worth telling. */
  eventFor(previous: string): { kind: AlertKind; params: AlertParams } | null;
  /** The state assumed before a subject's first sighting; absent, the first sighting is the baseline and tells nothing. */
  assumedBefore?: string;
}

/**
 * One source of changes compared against the snapshot; another kind of change is one more entry in `alertWatches`.
 */
export interface AlertWatch {
  /** The subjects it owns: those of the snapshot it no longer sees are dropped without an event. */
  prefix: string;
  observe(stores: Stores, now: Date): Promise<Observation[]>;
}

/** A server is « en panne » while its down_until (set by the outbox after failures in a row) is in the future. */
export const serverWatch: AlertWatch = {
  prefix: 'server:',
  async observe(stores, now) {
    return (await stores.alerts.serverHealth())
      .filter((server) => server.active)
      .map((server) => {
        const down = server.downUntil !== null && server.downUntil.getTime() > now.getTime();
        return {
          subject: `server:${server.id}`,
          state: down ? 'down' : 'up',
          eventFor: (previous) => {
            const params = { serverId: server.id, title: server.title };
            if (down && previous !== 'down') return { kind: 'serverDown', params: { ...params, until: server.downUntil!.toISOString(), error: server.lastError } };
            if (!down && previous === 'down') return { kind: 'serverUp', params };
            return null;
          },
        };
      });
  },
};

/** An active department whose route has no usable server (all inactive, unconfirmed or « en panne »). */
export const departmentWatch: AlertWatch = {
  prefix: 'department:',
  async observe(stores, now) {
    const observations: Observation[] = [];
    for (const department of await stores.departments.list()) {
      if (!department.active) continue;
      const [first] = await stores.departments.usableCandidates(department.id, now, 1);
      const state = first ? 'ok' : 'noServer';
      const params = { code: department.code, name: department.name };
      observations.push({
        subject: `department:${department.code}`,
        state,
        eventFor: (previous) => {
          if (state === 'noServer' && previous !== 'noServer') return { kind: 'departmentNoServer', params };
          if (first && previous === 'noServer') return { kind: 'departmentRestored', params: { ...params, server: first.title } };
          return null;
        },
      });
    }
    return observations;
  },
};

const thresholdOrder: (CertificateThreshold | 'ok')[] = ['ok', 30, 14, 7, 'expired'];

/**
 * A certificate the scheduled checks kept (src/health-checks/): told when it crosses a threshold towards expiry
 * (30, 14, 7 days, expired) or when its issuer changed. State: the threshold reached, then when the issuer last changed.
 * A server with no certificate kept yet is « none », and so is one never observed: a first certificate near expiry is told.
 */
export const certificateWatch: AlertWatch = {
  prefix: 'certificate:',
  async observe(stores, now) {
    const servers = (await stores.alerts.serverHealth()).filter((server) => server.active);
    const certificates = await stores.healthChecks.certificatesOf(servers.map((server) => server.id));
    return servers.map((server) => {
      const certificate = certificates.get(server.id);
      const warning = certificateWarningOf(certificate, now);
      const threshold = warning?.threshold ?? 'ok';
      const changedAt = certificate?.issuerChangedAt ? String(certificate.issuerChangedAt.getTime()) : '';
      const state = certificate ? `${threshold}|${changedAt}` : 'none';
      return {
        subject: `certificate:${server.id}`,
        state,
        // A certificate already near expiry when first seen (a check ran before any pass) is told all the same.
        assumedBefore: 'none',
        eventFor: (previous) => {
          if (!certificate) return null;
          const [previousThreshold = 'ok', previousChangedAt = ''] = previous === 'none' ? [] : previous.split('|');
          const rank = (value: string) => thresholdOrder.findIndex((t) => String(t) === value);
          const crossed = threshold !== 'ok' && rank(String(threshold)) > rank(previousThreshold);
          const issuerChanged = changedAt !== '' && changedAt !== previousChangedAt && Boolean(warning?.issuerChanged);
          if (!crossed && !issuerChanged) return null;
          return {
            kind: 'certificate',
            params: {
              serverId: server.id,
              title: server.title,
              threshold: crossed ? String(threshold) : null,
              daysLeft: warning?.daysLeft ?? null,
              validTo: certificate.validTo?.toISOString() ?? null,
              issuerChangedAt: issuerChanged ? certificate.issuerChangedAt!.toISOString() : null,
              issuer: certificate.issuer,
              previousIssuer: certificate.previousIssuer,
            },
          };
        },
      };
    });
  },
};

export const alertWatches: AlertWatch[] = [serverWatch, departmentWatch, certificateWatch];

/** Failed messages are read this long after they failed: a settlement committed a little late is not skipped by the cursor. */
export const failedSettleMarginMs = 1000;
const failedPerPass = 200;

/**
 * One pass's comparison, inside one transaction: the snapshot and the cursor move with the events they produce, so a
 * change is recorded once, whichever instance sees it (the control row is locked for the transaction).
 */
export async function detectChanges(stores: Stores, now: Date, options: { watches?: AlertWatch[]; webhook: boolean }): Promise<NewAlertEvent[]> {
  const watches = options.watches ?? alertWatches;
  return stores.transaction(async (tx) => {
    const control = await tx.alerts.lockControl(now);
    const previous = new Map((await tx.alerts.snapshot()).map((row) => [row.subject, row.state]));
    const events: NewAlertEvent[] = [];
    const changed: { subject: string; state: string }[] = [];
    const seen = new Set<string>();
    for (const watch of watches) {
      for (const observation of await watch.observe(tx, now)) {
        seen.add(observation.subject);
        const before = previous.get(observation.subject) ?? observation.assumedBefore;
        if (before === observation.state) continue;
        changed.push({ subject: observation.subject, state: observation.state });
        // First seen (a new server, the very first pass): its state is the baseline, not a change.
        if (before === undefined) continue;
        const event = observation.eventFor(before);
        if (event) events.push({ at: now, subject: observation.subject, webhook: options.webhook, ...event });
      }
    }
    const removed = [...previous.keys()].filter((subject) => !seen.has(subject) && watches.some((w) => subject.startsWith(w.prefix)));

    const failed = await tx.alerts.failedAfter(control.failedCursorAt, control.failedCursorId, new Date(now.getTime() - failedSettleMarginMs), failedPerPass);
    for (const message of failed) {
      events.push({
        at: message.updatedAt,
        kind: 'messageFailed',
        // Per department: a burst of failures is one mail, not one per message.
        subject: `failed:${message.department}`,
        params: { publicId: message.publicId, department: message.department, subject: message.subject, reply: message.lastReply, server: message.lastServerTitle },
        webhook: options.webhook,
      });
    }
    await tx.alerts.insertEvents(events);
    await tx.alerts.saveSnapshot(changed, removed);
    const last = failed.at(-1);
    if (last) await tx.alerts.advanceFailedCursor(last.updatedAt, last.id);
    return events;
  });
}
