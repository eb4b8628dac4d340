import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FormErrors } from '../auth/validation.js';
import type { MessageKey } from '../i18n/index.js';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';
import { validateTokenForm, type TokenField, type TokenFormValues } from './validation.js';

const emptyForm: TokenFormValues = { name: '', scope: 'some', departments: [] };

/** The administrators' page of API tokens: create (the secret shown once, on the answer to the POST), list, revoke. */
export async function apiTokenRoutes(app: FastifyInstance) {
  const tokens = app.repositories.apiTokens;

  async function renderIndex(
    request: FastifyRequest,
    reply: FastifyReply,
    form: { values: TokenFormValues; errors: FormErrors<TokenField>; failure?: { key: MessageKey } | null },
    status = 200,
  ) {
    return reply.page(
      'api-tokens/index',
      { title: request.t('apiTokens.title'), tokens: await tokens.list(), departments: await app.stores.departments.list(), ...form },
      status,
    );
  }

  app.get('/api-tokens', async (request, reply) => renderIndex(request, reply, { values: emptyForm, errors: {} }));

  app.post('/api-tokens', { config: { formLists: ['departments'] } }, async (request, reply) => {
    const departments = await app.stores.departments.list();
    const result = validateTokenForm(request.form, departments.map((d) => d.code));
    if (!result.ok) return renderIndex(request, reply, { values: result.values, errors: result.errors }, 422);
    try {
      const { token, secret } = await tokens.create(result.value, actorOf(request));
      // The secret is in this answer's body only: never in a URL, a flash cookie or the log.
      return reply.page('api-tokens/created', { title: request.t('apiTokens.created.title'), token, secret, departments }, 201);
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (!failure) throw err;
      return renderIndex(request, reply, { values: result.values, errors: {}, failure }, 503);
    }
  });

  app.post<IdParams>('/api-tokens/:id/revoke', async (request, reply) => {
    const id = parseId(request.params.id);
    const token = id === null ? null : await tokens.find(id);
    if (!token) return notFoundPage(reply);
    if (await tokens.revoke(token.id, actorOf(request))) reply.flash('success', 'flash.apiToken.revoked', { name: token.name });
    else reply.flash('info', 'flash.apiToken.alreadyRevoked', { name: token.name });
    return redirectAfterPost(request, reply, '/api-tokens');
  });
}
