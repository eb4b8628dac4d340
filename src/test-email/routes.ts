import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MessageDetail } from '../outbox/types.js';
import { wantsFragment } from '../web/render.js';
import { notFoundPage, redirectAfterPost } from '../web/replies.js';
import { testEmailValuesFrom, validateTestEmail, type TestEmailErrors, type TestEmailValues } from './validation.js';

const progressTarget = 'test-email-progress';
/** How often the follow page asks again, in seconds, while the message is on its way. */
export const followEverySeconds = 2;
const finished = new Set<MessageDetail['status']>(['sent', 'failed', 'cancelled']);

/** Envoyer un e-mail de test: it goes through the outbox like any message, and its page follows it to its outcome. Admins. */
export async function testEmailRoutes(app: FastifyInstance) {
  async function formChoices() {
    const departments = (await app.stores.departments.list()).filter((d) => d.active);
    const servers: { id: number; title: string; email: string }[] = [];
    for await (const server of app.repositories.smtpServers.iterateServers()) servers.push({ id: server.id, title: server.title, email: server.email });
    return { departments, servers };
  }

  async function renderForm(request: FastifyRequest, reply: FastifyReply, values: TestEmailValues, errors: TestEmailErrors = {}, status = 200) {
    return reply.page('test-email/form', { title: request.t('testEmail.title'), values, errors, ...(await formChoices()) }, status);
  }

  app.get('/test-email', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    return renderForm(request, reply, { ...testEmailValuesFrom(query), to: typeof query.to === 'string' ? query.to : request.user?.email ?? '' });
  });

  app.post('/test-email', async (request, reply) => {
    const choices = await formChoices();
    const result = validateTestEmail(
      request.form,
      { departments: choices.departments.map((d) => d.code), servers: choices.servers.map((s) => s.id) },
      { subject: request.t('testEmail.defaultSubject'), text: request.t('testEmail.defaultText') },
    );
    if (!result.ok) return renderForm(request, reply, result.values, result.errors, 422);
    const user = request.user!;
    const outcome = await app.outbox.accept(result.message, { origin: { kind: 'user', userId: user.id, name: user.email }, serverId: result.serverId });
    if (outcome.kind === 'unknownDepartment' || outcome.kind === 'inactiveDepartment') {
      return renderForm(request, reply, testEmailValuesFrom(request.form), { department: { key: 'testEmail.error.departmentUnknown' } }, 422);
    }
    if (outcome.kind === 'idempotencyConflict') throw new Error('a test e-mail carries no Idempotency-Key');
    reply.flash('success', 'testEmail.accepted', { to: result.message.to[0]! });
    return redirectAfterPost(request, reply, `/test-email/${outcome.message.id}`);
  });

  app.get<{ Params: { id: string } }>('/test-email/:id', async (request, reply) => {
    const message = /^[A-Za-z0-9_-]{1,64}$/.test(request.params.id) ? await app.outbox.find(request.params.id) : null;
    if (!message) return notFoundPage(reply);
    const departmentNames = Object.fromEntries((await app.stores.departments.list()).map((d) => [d.code, d.name]));
    const data = { message, departmentNames, following: !finished.has(message.status), followEverySeconds };
    if (wantsFragment(request, progressTarget)) return reply.fragment('test-email/_progress', data);
    return reply.page('test-email/follow', { ...data, title: request.t('testEmail.follow.title') });
  });
}
