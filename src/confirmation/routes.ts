import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatDateTime, type MessageKey, type Params } from '../i18n/index.js';
import { actorOf } from '../web/actor.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';
import { listReturnPath } from '../web/return-path.js';
import type { TokenState } from './repository.js';
import { sendConfirmation } from './service.js';

type TokenParams = { Params: { token: string } };

export async function confirmationRoutes(app: FastifyInstance) {
  const deps = {
    servers: app.repositories.smtpServers,
    confirmations: app.repositories.confirmations,
    logos: app.repositories.logos,
    settings: app.smtpSettings,
    publicUrl: app.config.publicUrl,
    ttlHours: app.config.confirmationTtlHours,
    tokens: app.oauthTokens,
  };

  function message(reply: FastifyReply, status: number, titleKey: MessageKey, bodyKey: MessageKey, params: Params, kind: string) {
    return reply.page('confirmation/message', { title: reply.request.t(titleKey), titleKey, bodyKey, params, kind }, status);
  }

  app.post<IdParams>('/smtp-servers/:id/confirmation', { config: { access: 'admin' } }, async (request, reply) => {
    // Read before anything is sent: a bad value falls back to the list, it never fails after the mail has gone.
    const back = listReturnPath(request.form.back);
    const id = parseId(request.params.id);
    const outcome = id === null ? ({ kind: 'notFound' } as const) : await sendConfirmation(deps, id, request.locale, actorOf(request));
    switch (outcome.kind) {
      case 'notFound':
        return notFoundPage(reply);
      case 'throttled':
        return message(
          reply.header('Retry-After', String(Math.max(1, Math.ceil((outcome.retryAt.getTime() - Date.now()) / 1000)))),
          429,
          'confirmation.throttled.title',
          outcome.scope === 'recipient' ? 'confirmation.throttledRecipient.body' : 'confirmation.throttled.body',
          { limit: outcome.limit, title: outcome.server.title, email: outcome.server.email, time: formatDateTime(request.locale, outcome.retryAt) },
          'error',
        );
      case 'sent':
        reply.flash('success', 'flash.confirmationSent', { email: outcome.server.email, title: outcome.server.title });
        return redirectAfterPost(request, reply, back);
      case 'failed':
        reply.flash('error', 'flash.confirmationFailed', {
          title: outcome.server.title,
          reason: request.t(outcome.diagnosis.key, outcome.diagnosis.params),
        });
        return redirectAfterPost(request, reply, back);
    }
  });

  function showState(request: FastifyRequest, reply: FastifyReply, state: TokenState, token: string) {
    // The page carries the token: no cache keeps it.
    reply.header('Cache-Control', 'no-store');
    const at = (date: Date) => formatDateTime(request.locale, date);
    switch (state.kind) {
      case 'valid':
        return reply.page('confirmation/confirm', {
          title: request.t('confirm.title', { email: state.server.email }),
          server: state.server,
          token,
          expires: at(state.expiresAt),
        });
      case 'confirmed':
        return message(reply, 200, 'confirm.done.title', 'confirm.done.body', { title: state.server.title, at: at(state.confirmedAt) }, 'success');
      case 'expired':
        return message(reply, 410, 'confirm.expired.title', 'confirm.expired.body', { title: state.server.title, expires: at(state.expiresAt) }, 'error');
      case 'used':
        return message(reply, 410, 'confirm.used.title', 'confirm.used.body', { title: state.server.title, at: at(state.usedAt) }, 'error');
      case 'revoked':
        return message(reply, 410, 'confirm.revoked.title', 'confirm.revoked.body', { title: state.server.title }, 'error');
      case 'unknown':
        return message(reply, 404, 'confirm.unknown.title', 'confirm.unknown.body', {}, 'error');
    }
  }

  // Opening the link changes nothing (mail scanners follow links): the page asks for a click on "Confirmer".
  app.get<TokenParams>('/confirm/:token', { config: { access: 'public' } }, async (request, reply) => {
    const state = await app.repositories.confirmations.inspect(request.params.token);
    return showState(request, reply, state, request.params.token);
  });

  app.post<TokenParams>('/confirm/:token', { config: { access: 'public' } }, async (request, reply) => {
    const state = await app.repositories.confirmations.confirm(request.params.token, actorOf(request));
    return showState(request, reply, state, request.params.token);
  });
}
