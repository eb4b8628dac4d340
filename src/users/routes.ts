import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { passwordLength } from '../auth/password-rules.js';
import { DuplicateEmailError, LastAdminError, type UserView } from '../auth/users.js';
import { validatePasswordForm, validateUserForm, type FormErrors, type PasswordField, type UserField, type UserFormValues } from '../auth/validation.js';
import type { MessageKey } from '../i18n/index.js';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';

function valuesOf(user: UserView): UserFormValues {
  return { email: user.email, displayName: user.displayName, role: user.role, disabled: user.disabled };
}

/** The administrators' page: accounts, roles, disabling, password resets. Every route here is admin-only (the default). */
export async function userRoutes(app: FastifyInstance) {
  const users = app.repositories.users;

  async function findFromParams(request: FastifyRequest<IdParams>): Promise<UserView | null> {
    const id = parseId(request.params.id);
    return id === null ? null : users.findUser(id);
  }

  async function renderForm(
    request: FastifyRequest,
    reply: FastifyReply,
    options: {
      user: UserView | null;
      values: UserFormValues;
      errors: FormErrors<UserField>;
      resetErrors?: FormErrors<PasswordField>;
      /** The store refused the write: said above the form, the values typed kept. */
      failure?: { key: MessageKey } | null;
      status: number;
    },
  ) {
    const title = options.user ? request.t('users.edit.title', { name: options.user.displayName }) : request.t('users.new.title');
    // `account`, not `user`: views already get the signed-in user as `it.user`.
    const { user: account, ...rest } = options;
    return reply.page(
      'users/form-page',
      {
        passwordLength,
        resetErrors: {},
        ...rest,
        account,
        title,
        action: account ? `/users/${account.id}` : '/users',
        path: account ? `/users/${account.id}/edit` : '/users/new',
      },
      options.status,
    );
  }

  app.get('/users', async (request, reply) => {
    return reply.page('users/index', { title: request.t('users.title'), users: await users.listUsers() });
  });

  app.get('/users/new', async (request, reply) => {
    return renderForm(request, reply, { user: null, values: { email: '', displayName: '', role: 'viewer', disabled: false }, errors: {}, status: 200 });
  });

  app.post('/users', async (request, reply) => {
    const result = validateUserForm({ ...request.form, disabled: '' }, { withPassword: true });
    if (!result.ok) return renderForm(request, reply, { user: null, values: result.values, errors: result.errors, status: 422 });
    try {
      const user = await users.createUser(result.value, actorOf(request));
      reply.flash('success', 'flash.user.created', { name: user.displayName });
      return redirectAfterPost(request, reply, '/users');
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderForm(request, reply, { user: null, values: result.values, errors: {}, failure, status: 503 });
      if (!(err instanceof DuplicateEmailError)) throw err;
      const errors: FormErrors<UserField> = { email: { key: 'error.account.email.taken', params: { email: result.value.email } } };
      return renderForm(request, reply, { user: null, values: result.values, errors, status: 422 });
    }
  });

  app.get<IdParams>('/users/:id/edit', async (request, reply) => {
    const user = await findFromParams(request);
    if (!user) return notFoundPage(reply);
    return renderForm(request, reply, { user, values: valuesOf(user), errors: {}, status: 200 });
  });

  app.post<IdParams>('/users/:id', async (request, reply) => {
    const user = await findFromParams(request);
    if (!user) return notFoundPage(reply);
    const result = validateUserForm(request.form, { withPassword: false });
    if (!result.ok) return renderForm(request, reply, { user, values: result.values, errors: result.errors, status: 422 });
    try {
      const updated = await users.updateUser(user.id, result.value, actorOf(request));
      if (!updated) return notFoundPage(reply);
      const changed = Object.keys(updated.changes).length > 0;
      if (!changed) reply.flash('info', 'flash.user.unchanged');
      else if (updated.user.disabled && !user.disabled) reply.flash('success', 'flash.user.disabled', { name: updated.user.displayName });
      else reply.flash('success', 'flash.user.updated', { name: updated.user.displayName });
      // Administrators who demoted or disabled themselves can no longer see this page: send them where they may go.
      const self = user.id === request.user!.id;
      const stillAdmin = updated.user.role === 'admin' && !updated.user.disabled;
      return redirectAfterPost(request, reply, self && !stillAdmin ? '/smtp-servers' : '/users');
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderForm(request, reply, { user, values: result.values, errors: {}, failure, status: 503 });
      if (err instanceof LastAdminError) {
        const field = result.value.disabled && !user.disabled ? 'disabled' : 'role';
        return renderForm(request, reply, { user, values: result.values, errors: { [field]: { key: 'error.account.lastAdmin' } }, status: 422 });
      }
      if (err instanceof DuplicateEmailError) {
        const errors: FormErrors<UserField> = { email: { key: 'error.account.email.taken', params: { email: result.value.email } } };
        return renderForm(request, reply, { user, values: result.values, errors, status: 422 });
      }
      throw err;
    }
  });

  app.post<IdParams>('/users/:id/password', async (request, reply) => {
    const user = await findFromParams(request);
    if (!user) return notFoundPage(reply);
    const result = validatePasswordForm(request.form, {
      email: user.email,
      displayName: user.displayName,
      askCurrent: false,
    });
    if (!result.ok) return renderForm(request, reply, { user, values: valuesOf(user), errors: {}, resetErrors: result.errors, status: 422 });
    await users.setPassword(user.id, result.value.password, actorOf(request), { action: 'user.passwordReset' });
    reply.flash('success', 'flash.user.passwordReset', { name: user.displayName });
    return redirectAfterPost(request, reply, user.id === request.user!.id ? '/login' : '/users');
  });
}
