import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { renderMetrics } from './exposition.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compared as digests: constant time, whatever the lengths. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}

/**
 * GET /metrics for Prometheus, only when RELAIS_METRICS_TOKEN is set (else 404 for everyone, rather than the login
 * page an unknown URL gives the anonymous). Public as far as sessions go: its own bearer token is the access check.
 */
export async function metricsRoutes(app: FastifyInstance) {
  const token = app.config.metricsToken;
  app.get('/metrics', { config: { access: 'public' } }, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (!token) return reply.code(404).type('text/plain; charset=utf-8').send('404 Not Found: /metrics is off (RELAIS_METRICS_TOKEN is not set)\n');
    if (!tokenMatches(request.headers.authorization, token)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="relais-metrics"').type('text/plain; charset=utf-8').send('401 Unauthorized\n');
    }
    const snapshot = await app.stores.metrics.snapshot();
    const certificates = await app.stores.healthChecks.certificatesOf(snapshot.servers.filter((s) => s.active).map((s) => s.id));
    const body = renderMetrics(snapshot, new Date(), certificates);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(body);
  });
}
