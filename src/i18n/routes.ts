import type { FastifyInstance } from 'fastify';
import { localeCookieName } from '../web/render.js';
import { safeReturnPath } from '../web/return-path.js';
import { isLocale } from './index.js';

/** A plain link switches the language, so it works in any browser; only a same-site path is followed back. */
export async function languageRoutes(app: FastifyInstance) {
  app.get<{ Querystring: { lang?: string; next?: string } }>('/language', { config: { access: 'public' } }, async (request, reply) => {
    const { lang, next } = request.query;
    if (isLocale(lang)) {
      reply.setCookie(localeCookieName, lang, { path: '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 24 * 3600 });
    }
    return reply.redirect(safeReturnPath(next), 303);
  });
}
