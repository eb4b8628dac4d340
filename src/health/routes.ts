import type { FastifyInstance } from 'fastify';

export async function healthRoutes(app: FastifyInstance) {
  // "ok" means the database answers and would accept a write now (a disk full or a read-only file answers 503).
  app.get('/healthz', { config: { access: 'public' } }, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    try {
      app.database.sqlite.prepare('SELECT 1').get();
    } catch (err) {
      request.log.error({ err }, 'health check: database unreachable');
      return reply.code(503).send({ status: 'error', database: 'unreachable' });
    }
    const failure = app.database.checkWrites();
    if (failure) {
      request.log.error({ database: app.database.file, failure }, 'health check: the database does not accept writes');
      return reply.code(503).send({ status: 'error', database: failure === 'diskFull' ? 'disk-full' : 'write-failed' });
    }
    return reply.send({ status: 'ok', database: 'ok' });
  });
}
