import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { safeReturnPath } from '../web/return-path.js';
import { isApiUrl, routeAccess, type Access } from '../web/access.js';
import { siteCookie, type SiteCookie } from '../web/cookies.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** SHA-256 of the session id the request came with, when it is a live session. */
    sessionIdHash: string | null;
  }
}

/** URL prefixes of the static files: open to everyone, no session lookup. */
export const staticPrefixes = ['/public/', '/vendor/'] as const;

export function isStaticUrl(url: string): boolean {
  return staticPrefixes.some((prefix) => url.startsWith(prefix));
}

export type SessionCookie = SiteCookie;

export function sessionCookie(publicUrl: string): SessionCookie {
  return siteCookie(publicUrl, 'relais_session');
}

/** Where to come back after signing in: the page the browser was on (htmx tells us), or this GET's own URL. */
function returnPath(request: FastifyRequest): string | undefined {
  const current = request.headers['hx-current-url'];
  if (request.headers['hx-request'] === 'true' && typeof current === 'string') {
    try {
      const url = new URL(current);
      return `${url.pathname}${url.search}`;
    } catch {
      return undefined;
    }
  }
  if (request.method === 'GET' || request.method === 'HEAD') return request.url;
  return undefined;
}

export function loginUrl(next: string | undefined): string {
  const safe = next === undefined ? undefined : safeReturnPath(next, '');
  return safe ? `/login?next=${encodeURIComponent(safe)}` : '/login';
}

function sendToLogin(request: FastifyRequest, reply: FastifyReply) {
  const url = loginUrl(returnPath(request));
  reply.header('Cache-Control', 'no-store');
  // htmx would swap a redirect's target into the page; HX-Redirect makes the whole browser go there.
  if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', url).code(200).send('');
  return reply.redirect(url, 303);
}

/**
 * The one place where access is enforced. Every route declares `config.access` (absent = admin); the session cookie
 * is read here, `request.user` set, and a request that may not go on is answered before its body is even parsed.
 */
export const accessControl = fp(async function accessControl(app: FastifyInstance) {
  const cookie = sessionCookie(app.config.publicUrl);
  app.decorateRequest('sessionIdHash', null);

  app.addHook('onRequest', async (request, reply) => {
    // The API checks its own tokens and answers its own 404s; a session cookie means nothing there.
    if (routeAccess(request.routeOptions.config) === 'token' || (request.is404 && isApiUrl(request.url))) return;
    // An unknown URL is open to any signed-in user (who gets the 404 page) and to nobody else.
    const access: Access = request.is404 ? 'viewer' : routeAccess(request.routeOptions.config);
    // Static files need no session lookup; decided on the route matched, not on the raw URL.
    if (access === 'public' && isStaticUrl(request.routeOptions.url ?? '')) return;

    let expired = false;
    const id = request.cookies[cookie.name];
    if (id) {
      const session = await app.repositories.sessions.resolveSession(id);
      if (session) {
        request.user = session.user;
        request.sessionIdHash = session.idHash;
      } else {
        expired = true;
        reply.clearCookie(cookie.name, cookie.options);
      }
    }

    if (access === 'public') return;
    if (!request.user) {
      if (expired) reply.flash('info', 'auth.flash.expired');
      return sendToLogin(request, reply);
    }
    if (access === 'admin' && request.user.role !== 'admin') {
      request.log.info({ userId: request.user.id, url: request.url }, 'a viewer was refused an administrator route');
      return reply.page('errors/error', { titleKey: 'page.forbidden.title', bodyKey: 'page.forbiddenRole.body', params: {} }, 403);
    }
  });

  // Pages seen while signed in must not outlive the session in a shared cache or the browser's back button.
  app.addHook('onSend', async (request, reply) => {
    if (request.user && !isStaticUrl(request.url) && !reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
  });
});
