import type { FastifyInstance } from 'fastify';

export async function healthRoutes(app: FastifyInstance) {
  app.get('/healthz', { config: { access: 'public' } }, async (request, reply) => {
    try {
      app.database.sqlite.prepare('SELECT 1').get();
      return reply.header('Cache-Control', 'no-store').send({ status: 'ok', database: 'ok' });
    } catch (err) {
      request.log.error({ err }, 'health check: database unreachable');
      return reply.code(503).header('Cache-Control', 'no-store').send({ status: 'error', database: 'unreachable' });
    }
  });
}
