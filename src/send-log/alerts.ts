import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Stores } from '../db/stores.js';
import type { OutboxService } from '../outbox/service.js';

/** What the banner on every page says: messages failed for good lately, departments that could send nothing now. */
export interface SendingAlerts {
  failedLastDay: number;
  /** Active departments without a usable server, by name. */
  departmentsWithoutServer: { code: string; name: string }[];
}

export const failedWindowMs = 24 * 3_600_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on pages for signed-in users; null when there is nothing to say (or not worked out for this request). */
    sendingAlerts: SendingAlerts | null;
  }
}

export async function sendingAlertsNow(stores: Stores, outbox: OutboxService, now = new Date()): Promise<SendingAlerts> {
  const failedLastDay = await outbox.countFailedSince(new Date(now.getTime() - failedWindowMs));
  const departmentsWithoutServer: SendingAlerts['departmentsWithoutServer'] = [];
  for (const department of await stores.departments.list()) {
    if (!department.active) continue;
    const usable = await stores.departments.usableCandidates(department.id, now, 1);
    if (usable.length === 0) departmentsWithoutServer.push({ code: department.code, name: department.name });
  }
  return { failedLastDay, departmentsWithoutServer };
}

/** Worked out at most once per `ttlMs` per instance: every page shows it, none should pay for it. */
export function cachedSendingAlerts(read: () => Promise<SendingAlerts>, ttlMs: number) {
  let cached: { at: number; value: Promise<SendingAlerts> } | null = null;
  return {
    current(): Promise<SendingAlerts> {
      const now = Date.now();
      if (!cached || now - cached.at >= ttlMs) {
        const value = read();
        cached = { at: now, value };
        // A failed read is not kept: the next page asks again.
        value.catch(() => {
          if (cached?.value === value) cached = null;
        });
      }
      return cached.value;
    },
    /** After an action that changes what it says (a retry, a cancel): the next page reads it afresh. */
    forget() {
      cached = null;
    },
  };
}

export const alertsTtlMs = 5_000;

/**
 * The banner's facts on every full page for a signed-in user (a fragment for htmx has no layout to show them in).
 * A failure to work them out never breaks the page: it is logged and the banner left out.
 */
export const sendingAlertsPlugin = fp(async function sendingAlertsPlugin(app: FastifyInstance) {
  const alerts = cachedSendingAlerts(() => sendingAlertsNow(app.stores, app.outbox), alertsTtlMs);
  app.decorate('sendingAlerts', alerts);
  app.decorateRequest('sendingAlerts', null);
  app.addHook('preHandler', async (request) => {
    if (!request.user || (request.method !== 'GET' && request.method !== 'HEAD')) return;
    const headers = request.headers;
    if (headers['hx-request'] === 'true' && headers['hx-history-restore-request'] !== 'true') return;
    if (request.url.startsWith('/public/') || request.url.startsWith('/vendor/') || request.url.includes('/export.')) return;
    try {
      const value = await alerts.current();
      request.sendingAlerts = value.failedLastDay > 0 || value.departmentsWithoutServer.length > 0 ? value : null;
    } catch (err) {
      request.log.warn({ err }, 'the sending alerts could not be read');
    }
  });
});

declare module 'fastify' {
  interface FastifyInstance {
    /** The banner's facts, cached a few seconds per instance. */
    sendingAlerts: ReturnType<typeof cachedSendingAlerts>;
  }
}
