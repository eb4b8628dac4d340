import type { FastifyInstance } from 'fastify';
import { mayUse } from '../api-tokens/service.js';
import type { MessageAttempt, MessageDetail, MessageListQuery, MessageStatus, MessageSummary } from '../outbox/types.js';
import { outgoingMessageOf, type MessageBody } from './message-input.js';
import { ApiProblem } from './problem.js';
import { getMessageSchema, listMessagesSchema, postMessageSchema } from './schemas.js';

const server = (id: number | null, title: string | null) => (title === null ? null : { id, title });

function summaryOf(message: MessageSummary) {
  return {
    id: message.id,
    status: message.status,
    department: message.department,
    to: message.to,
    subject: message.subject,
    messageId: message.messageId,
    acceptedAt: message.acceptedAt.toISOString(),
    nextAttemptAt: message.nextAttemptAt?.toISOString() ?? null,
    attemptCount: message.attemptCount,
    lastReply: message.lastReply,
    server: server(message.serverId, message.serverTitle),
  };
}

function detailOf(message: MessageDetail) {
  return {
    ...summaryOf(message),
    cc: message.cc,
    bcc: message.bcc,
    replyTo: message.replyTo,
    pendingRecipients: message.pendingRecipients,
    attempts: message.attempts.map((attempt: MessageAttempt) => ({
      at: attempt.at.toISOString(),
      server: server(attempt.serverId, attempt.serverTitle),
      outcome: attempt.outcome,
      reply: attempt.reply,
      durationMs: attempt.durationMs,
    })),
  };
}

const forbidden = (code: string) => new ApiProblem('department-forbidden', 403, `this token may not use the department "${code}"`, { department: code });

interface ListQuery {
  status?: MessageStatus;
  department?: string;
  since?: string;
  page: number;
  perPage: number;
}

/**
 * /api/v1/messages: queue a message for a department, read one, list them. A token reads only the messages of the
 * departments it may send for (all of them for a token of every department), whoever queued them.
 */
export async function messageRoutes(api: FastifyInstance) {
  api.post<{ Body: MessageBody; Headers: { 'idempotency-key'?: string } }>(
    '/v1/messages',
    { schema: postMessageSchema, config: { access: 'token' } },
    async (request, reply) => {
      const caller = request.apiCaller!;
      const message = outgoingMessageOf(request.body);
      // Before the department is looked up: a token limited to some departments learns nothing of the others, and a
      // replayed call (the accept looks for its key first) is answered as before although the department changed since.
      if (!mayUse(caller, message.department)) throw forbidden(message.department);

      const idempotencyKey = request.headers['idempotency-key'];
      const outcome = await api.outbox.accept(message, {
        origin: { kind: 'token', tokenId: caller.id, name: caller.name },
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      switch (outcome.kind) {
        case 'unknownDepartment':
          throw new ApiProblem('unknown-department', 422, `no department has the code "${outcome.code}"`, { department: outcome.code });
        case 'inactiveDepartment':
          throw new ApiProblem('inactive-department', 422, `the department "${outcome.code}" is deactivated`, { department: outcome.code });
        case 'idempotencyConflict':
          throw new ApiProblem('idempotency-conflict', 422, 'this Idempotency-Key was already used with another body; use a new key for a new message', {
            field: 'Idempotency-Key',
            reason: 'was used with another body',
          });
        case 'accepted':
        case 'replayed': {
          if (outcome.kind === 'replayed') reply.header('Idempotent-Replayed', 'true');
          const { id, status } = outcome.message;
          return reply.code(202).header('Location', `/api/v1/messages/${encodeURIComponent(id)}`).send({ id, status });
        }
      }
    },
  );

  api.get<{ Params: { id: string } }>('/v1/messages/:id', { schema: getMessageSchema, config: { access: 'token' } }, async (request) => {
    const message = await api.outbox.find(request.params.id);
    // Another department's message is as absent as a message that never was.
    if (!message || !mayUse(request.apiCaller!, message.department)) throw new ApiProblem('not-found', 404, 'no such message for this token');
    return detailOf(message);
  });

  api.get<{ Querystring: ListQuery }>('/v1/messages', { schema: listMessagesSchema, config: { access: 'token' } }, async (request) => {
    const caller = request.apiCaller!;
    const { status, department, since, page, perPage } = request.query;
    if (department !== undefined && !mayUse(caller, department)) throw forbidden(department);
    const query: MessageListQuery = { page, perPage };
    if (status) query.status = status;
    if (department !== undefined) query.department = department;
    else if (!caller.allDepartments) query.departments = [...caller.departments];
    if (since) {
      // The format lets a leap second through (23:59:60), which no Date holds.
      query.since = new Date(since);
      if (Number.isNaN(query.since.getTime())) throw new ApiProblem('invalid-request', 400, 'since is not a moment that exists', { field: 'since', reason: 'is not a moment that exists' });
    }
    const result = await api.outbox.list(query);
    // Past the last page there is nothing: a client that reads pages until one is empty stops there.
    if (page > result.pages) return { messages: [], total: result.total, page, pages: result.pages, perPage: result.perPage };
    return { messages: result.rows.map(summaryOf), total: result.total, page: result.page, pages: result.pages, perPage: result.perPage };
  });
}
