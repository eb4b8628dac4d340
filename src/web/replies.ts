import type { FastifyReply, FastifyRequest } from 'fastify';

/** A route with a row id in its URL (`/smtp-servers/:id`). */
export type IdParams = { Params: { id: string } };

/** A row id from the URL: digits only, no leading zero, small enough to be exact; null otherwise (then a 404). */
export function parseId(raw: string): number | null {
  return /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : null;
}

/** After a successful POST: htmx is told to load the page itself, a plain form gets 303 See Other. */
export function redirectAfterPost(request: FastifyRequest, reply: FastifyReply, url: string) {
  if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', url).code(200).send('');
  return reply.redirect(url, 303);
}

/** The page for a row that does not exist (or no longer does). */
export function notFoundPage(reply: FastifyReply) {
  return reply.page('errors/error', { titleKey: 'page.notFound.title', bodyKey: 'page.notFound.body', params: {} }, 404);
}
