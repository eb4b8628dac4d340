import { randomBytes } from 'node:crypto';
import { runHealthCheck, type HealthCheckDeps } from './service.js';
import { nextSlotAfter } from './schedule.js';

/** Checks one instance runs at once: a few, so a hundred servers due together never open a hundred connections. */
export const healthCheckConcurrency = 3;

/** How long a claimed check stays this instance's: the slowest probe, with room; then a crashed instance's is taken over. */
export function healthCheckLeaseMs(deps: Pick<HealthCheckDeps, 'smtpSettings'>): number {
  const s = deps.smtpSettings;
  return 2 * (s.connectTimeoutMs + s.greetingTimeoutMs) + 12 * s.commandTimeoutMs + 30_000;
}

/**
 * The scheduled connection tests of one instance. Every instance runs one; the lease in server_health_checks makes
 * each check run once across them. It looks for due checks a few times per interval, at most a few at a time.
 */
export function createHealthCheckScheduler(deps: HealthCheckDeps) {
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const pollMs = Math.min(30_000, Math.max(200, Math.floor(deps.intervalMs / 15)));
  const leaseMs = healthCheckLeaseMs(deps);
  const inFlight = new Set<Promise<void>>();
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> | null = null;
  let again = false;

  async function claimDue() {
    const now = new Date();
    await deps.stores.healthChecks.scheduleMissing((serverId) => nextSlotAfter(serverId, now, deps.intervalMs));
    const free = healthCheckConcurrency - inFlight.size;
    if (free <= 0 || !running) return;
    const claimed = await deps.stores.healthChecks.claim(owner, now, new Date(now.getTime() + leaseMs), free);
    for (const serverId of claimed) {
      const work: Promise<void> = runHealthCheck(deps, serverId, owner)
        .then(() => {})
        .catch((err: unknown) => deps.log.error({ err, serverId }, 'scheduled check failed; its lease will expire and it will run again'))
        .finally(() => {
          inFlight.delete(work);
          // A place is free: more checks may be due (many servers share a quarter hour).
          wake();
        });
      inFlight.add(work);
    }
  }

  /** Looks for due checks now, or right after the look under way. */
  function wake() {
    if (!running) return;
    if (current) {
      again = true;
      return;
    }
    current = (async () => {
      do {
        again = false;
        try {
          await claimDue();
        } catch (err) {
          deps.log.error({ err }, 'scheduled checks: looking for due checks failed');
        }
      } while (again && running);
    })().finally(() => {
      current = null;
    });
  }

  function schedule() {
    if (!running) return;
    timer = setTimeout(() => {
      wake();
      schedule();
    }, pollMs);
  }

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    /** Claims nothing more and waits for the checks under way to end (their results are written). */
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      await current;
      await Promise.allSettled([...inFlight]);
    },
  };
}
