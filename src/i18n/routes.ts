import type { FastifyInstance } from 'fastify';
import { localeCookieName } from '../web/render.js';
import { isLocale } from './index.js';

/** A plain link switches the language, so it works in any browser; only a same-site path is followed back. */
export async function languageRoutes(app: FastifyInstance) {
  app.get<{ Querystring: { lang?: string; next?: string } }>('/language', { config: { access: 'public' } }, async (request, reply) => {
    const { lang, next } = request.query;
    if (isLocale(lang)) {
      reply.setCookie(localeCookieName, lang, { path: '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 24 * 3600 });
    }
    return reply.redirect(safeNext(next), 303);
  });
}

/**
 * Only a path on this site: not "//evil", "/\evil" (browsers read "\" as "/"), nor one hiding a tab or a newline
 * (browsers drop them: "/\t/evil" becomes "//evil").
 */
export function safeNext(next: unknown, fallback = '/smtp-servers'): string {
  if (typeof next !== 'string' || next.length > 2000 || !next.startsWith('/')) return fallback;
  if (/[\\\u0000-\u001f\u007f]/.test(next) || next.startsWith('//')) return fallback;
  // A Location header carries ASCII only: "/é" becomes "/%C3%A9" (what is already escaped stays as it is).
  return next.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run));
}
