import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { wantsFragment } from '../web/render.js';
import { notFoundPage, redirectAfterPost } from '../web/replies.js';
import type { MessageDetail } from '../outbox/types.js';
import { isMessageId, logFilterNames, logPerPageChoices, logStateFrom, logUrl, messageStatuses, outboxQueryOf, type LogState } from './list-query.js';
import { logChoices } from './choices.js';

const tableTarget = 'messages-table';

/** The Journal des envois: every message, a message's attempts, and (admins) a retry or a cancel. Viewers read. */
export async function sendLogRoutes(app: FastifyInstance) {
  async function tableData(state: LogState) {
    const result = await app.outbox.list({ ...outboxQueryOf(state), page: state.page, perPage: state.perPage });
    const choices = await logChoices(app);
    return {
      state: { ...state, page: result.page },
      result,
      ...choices,
      statuses: messageStatuses,
      filterNames: logFilterNames,
      perPageChoices: logPerPageChoices,
      logUrl,
    };
  }

  app.get('/messages', { config: { access: 'viewer' } }, async (request, reply) => {
    const state = logStateFrom(request.query as Record<string, unknown>);
    const data = await tableData(state);
    if (wantsFragment(request, tableTarget)) return reply.fragment('send-log/_table', data);
    return reply.page('send-log/index', { ...data, title: request.t('sendLog.title') });
  });

  async function findMessage(raw: string): Promise<MessageDetail | null> {
    return isMessageId(raw) ? app.outbox.find(raw) : null;
  }

  app.get<{ Params: { id: string } }>('/messages/:id', { config: { access: 'viewer' } }, async (request, reply) => {
    const message = await findMessage(request.params.id);
    if (!message) return notFoundPage(reply);
    const { departmentNames } = await logChoices(app);
    return reply.page('send-log/message', {
      title: request.t('sendLog.message.title', { subject: message.subject }),
      message,
      departmentNames,
    });
  });

  function actorFor(request: FastifyRequest) {
    const user = request.user!;
    return { userId: user.id, name: user.email, ip: request.ip };
  }

  async function act(request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, action: 'retry' | 'cancel') {
    const message = await findMessage(request.params.id);
    if (!message) return notFoundPage(reply);
    const done = action === 'retry' ? await app.outbox.retry(message.id, actorFor(request)) : await app.outbox.cancel(message.id, actorFor(request));
    if (done) app.sendingAlerts.forget();
    if (done) reply.flash('success', action === 'retry' ? 'sendLog.retry.done' : 'sendLog.cancel.done');
    else reply.flash('error', action === 'retry' ? 'sendLog.retry.refused' : 'sendLog.cancel.refused');
    return redirectAfterPost(request, reply, `/messages/${message.id}`);
  }

  app.post<{ Params: { id: string } }>('/messages/:id/retry', async (request, reply) => act(request, reply, 'retry'));
  app.post<{ Params: { id: string } }>('/messages/:id/cancel', async (request, reply) => act(request, reply, 'cancel'));
}
