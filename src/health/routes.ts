import type { FastifyInstance } from 'fastify';
import type { StoreHealth } from '../db/stores.js';

const reported: Record<Exclude<StoreHealth, 'ok'>, string> = { unreachable: 'unreachable', diskFull: 'disk-full', writeFailed: 'write-failed' };

export async function healthRoutes(app: FastifyInstance) {
  // "ok" means the database answers and would accept a write now (unreachable, a disk full or a read-only file: 503).
  app.get('/healthz', { config: { access: 'public' } }, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const health = await app.stores.healthy();
    if (health === 'ok') return reply.send({ status: 'ok', database: 'ok' });
    request.log.error({ database: app.stores.kind, failure: health }, 'health check: the database is unreachable or does not accept writes');
    return reply.code(503).send({ status: 'error', database: reported[health] });
  });
}
