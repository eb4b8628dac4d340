import type { FastifyError, FastifyInstance } from 'fastify';
import { UndecryptableSecretError } from '../crypto/secret-box.js';
import { storeWriteErrorOf, type StoreWriteFailure } from '../db/failures.js';
import type { MessageKey } from '../i18n/index.js';
import { notFoundPage } from './replies.js';

interface ErrorPage {
  status: number;
  titleKey: MessageKey;
  bodyKey: MessageKey;
  /** Where to go to put things right, besides the list. */
  link?: { href: string; labelKey: MessageKey };
}

const storeWriteMessages: Record<StoreWriteFailure, MessageKey> = {
  diskFull: 'error.store.diskFull',
  other: 'error.store.failed',
};

/** The message a form shows, next to the values typed, when the store refused the write; null for any other error. */
export function storeWriteMessage(err: unknown): { key: MessageKey } | null {
  const failure = storeWriteErrorOf(err);
  return failure ? { key: storeWriteMessages[failure.reason] } : null;
}

function pageFor(error: FastifyError): ErrorPage {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, titleKey: 'page.tooLarge.title', bodyKey: 'page.tooLarge.body' };
  if (error.code?.startsWith('FST_CSRF_')) return { status: 403, titleKey: 'page.forbidden.title', bodyKey: 'page.csrf.body' };
  if (error instanceof UndecryptableSecretError) {
    const link = error.serverId === undefined ? undefined : { href: `/smtp-servers/${error.serverId}/edit`, labelKey: 'page.secretUnreadable.edit' as const };
    return { status: 409, titleKey: 'page.secretUnreadable.title', bodyKey: 'page.secretUnreadable.body', link };
  }
  const storeFailure = storeWriteErrorOf(error);
  if (storeFailure) return { status: 503, titleKey: 'page.storeWrite.title', bodyKey: storeWriteMessages[storeFailure.reason] };
  const status = error.statusCode ?? 500;
  if (status === 404) return { status, titleKey: 'page.notFound.title', bodyKey: 'page.notFound.body' };
  if (status >= 400 && status < 500) return { status, titleKey: 'page.badRequest.title', bodyKey: 'page.badRequest.body' };
  return { status: 500, titleKey: 'page.error.title', bodyKey: 'page.error.body' };
}

/** Every failure gets a page in the user's language with a status that says what happened; never a stack trace. */
export function registerErrorPages(app: FastifyInstance, bodyLimit: number) {
  app.setNotFoundHandler(async (request, reply) => notFoundPage(reply));

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const page = pageFor(error);
    if (page.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: error.code, status: page.status }, error.message);
    const params = { id: request.id, limit: `${Math.round(bodyLimit / 1024)} Ko`, keyId: (error as Partial<UndecryptableSecretError>).keyId ?? '' };
    try {
      return await reply.page('errors/error', { ...page, params }, page.status);
    } catch (renderError) {
      request.log.error({ err: renderError }, 'error page failed to render');
      return reply.code(page.status).type('text/plain; charset=utf-8').send(request.t(page.titleKey));
    }
  });
}
