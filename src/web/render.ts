import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { formatDateTime, pickLocale, translator, type Locale, type MessageKey, type Params, type Translate } from '../i18n/index.js';
import { replyWords } from '../outbox/own-replies.js';
import type {} from './access.js';
import { assetUrls } from './assets.js';
import { compressedHtml } from './compress-html.js';
import { storedFailureWords } from '../smtp/diagnosis.js';
import { escapeHtml } from './escape.js';

export const localeCookieName = 'relais_lang';
const flashCookieName = 'relais_flash';

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    locale: Locale;
    t: Translate;
  }
  interface FastifyReply {
    /** Renders a whole page (template with its layout) with what every page needs. */
    page(template: string, data?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
    /** Renders a fragment for htmx: no layout, and never consumes the flash. */
    fragment(template: string, data?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
    /** The HTML of a page (which shows and consumes the flash) or a fragment, without sending it. */
    renderHtml(template: string, data?: Record<string, unknown>, kind?: 'page' | 'fragment'): Promise<string>;
    flash(kind: Flash['kind'], key: MessageKey, params?: Params): FastifyReply;
  }
}

/** True when htmx asked for the element with this id; a history restore or a boosted request gets the whole page. */
export function wantsFragment(request: FastifyRequest, targetId: string): boolean {
  const headers = request.headers;
  return headers['hx-request'] === 'true' && headers['hx-target'] === targetId && headers['hx-history-restore-request'] !== 'true';
}

/** The request's own path and query, for links that come back here. Only same-site paths. */
/** What a CSRF token is bound to: the session (its id's hash), or the anonymous browser (the library wants a non-empty value). */
export function csrfUserInfo(request: FastifyRequest): string {
  return request.sessionIdHash ?? 'anonymous';
}

export function currentPath(request: FastifyRequest): string {
  const url = request.url;
  return url.startsWith('/') && !url.startsWith('//') ? url : '/';
}

export const renderPlugin = fp(async function renderPlugin(app: FastifyInstance) {
  const asset = assetUrls();

  app.decorateRequest('locale', 'fr');
  app.decorateRequest('user', null);
  app.decorateRequest('t', null as unknown as Translate);
  app.addHook('onRequest', async (request) => {
    request.locale = pickLocale(request.cookies[localeCookieName], request.headers['accept-language']);
    request.t = translator(request.locale);
  });

  function common(request: FastifyRequest, reply: FastifyReply) {
    const locale = request.locale;
    return {
      t: request.t,
      locale,
      otherLocale: locale === 'fr' ? 'en' : 'fr',
      asset,
      escape: escapeHtml,
      // Bound to the session: a token handed out before signing in, or to another session, is refused.
      csrfToken: reply.generateCsrf({ userInfo: csrfUserInfo(request) }),
      path: currentPath(request),
      formatDateTime: (date: Date | null | undefined) => formatDateTime(locale, date),
      failureWords: (raw: string | null | undefined) => storedFailureWords(raw, request.t),
      replyWords: (reply: string | null | undefined) => replyWords(reply, request.t),
      user: request.user,
      isAdmin: request.user?.role === 'admin',
      // The banner's facts (src/send-log/alerts.ts); null when there is nothing to say.
      sendingAlerts: (request as { sendingAlerts?: unknown }).sendingAlerts ?? null,
    };
  }

  function readFlash(request: FastifyRequest, reply: FastifyReply): Flash | null {
    const raw = request.cookies[flashCookieName];
    if (!raw) return null;
    reply.clearCookie(flashCookieName, { path: '/' });
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return null;
    try {
      return JSON.parse(unsigned.value) as Flash;
    } catch {
      return null;
    }
  }

  function sendHtml(reply: FastifyReply, html: string, status: number) {
    reply.code(status).header('Vary', 'HX-Request, HX-Target').type('text/html; charset=utf-8');
    const compressed = compressedHtml(html, reply.request.headers);
    if (!compressed) return reply.send(html);
    return reply.header('Vary', 'Accept-Encoding, HX-Request, HX-Target').header('Content-Encoding', compressed.encoding).send(compressed.body);
  }

  app.decorateReply('renderHtml', async function renderHtml(this: FastifyReply, template: string, data = {}, kind = 'fragment') {
    const flash = kind === 'page' ? readFlash(this.request, this) : null;
    return this.viewAsync(template, { ...common(this.request, this), flash, ...data });
  });

  app.decorateReply('page', async function page(this: FastifyReply, template: string, data = {}, status = 200) {
    const html = await this.renderHtml(template, data, 'page');
    return sendHtml(this, html, status);
  });

  app.decorateReply('fragment', async function fragment(this: FastifyReply, template: string, data = {}, status = 200) {
    const html = await this.renderHtml(template, data);
    return sendHtml(this, html, status);
  });

  app.decorateReply('flash', function flash(this: FastifyReply, kind: Flash['kind'], key: MessageKey, params?: Params) {
    const value: Flash = { kind, message: this.request.t(key, params) };
    return this.setCookie(flashCookieName, JSON.stringify(value), { path: '/', httpOnly: true, sameSite: 'lax', signed: true });
  });
});
