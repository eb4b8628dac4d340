import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MessageKey } from '../i18n/index.js';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { wantsFragment } from '../web/render.js';
import { notFoundPage, parseId, redirectAfterPost } from '../web/replies.js';
import { DuplicateCodeError, type DepartmentOverview } from './service.js';
import { departmentLimits, validateDepartmentForm, validateName, type DepartmentErrors, type DepartmentValues, type FieldError } from './validation.js';

type CodeParams = { Params: { code: string } };
type ServerParams = { Params: { code: string; id: string } };

const serversTarget = 'department-servers';

/** The departments and the order of their servers: everyone signed in reads, administrators write. */
export async function departmentRoutes(app: FastifyInstance) {
  const departments = app.repositories.departments;

  async function renderList(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { values?: DepartmentValues; errors?: DepartmentErrors; failure?: { key: MessageKey } | null; status?: number } = {},
  ) {
    return reply.page(
      'departments/index',
      {
        title: request.t('departments.title'),
        routes: await departments.overview(),
        values: options.values ?? { code: '', name: '' },
        errors: options.errors ?? {},
        failure: options.failure ?? null,
        limits: departmentLimits,
        path: '/departments',
      },
      options.status ?? 200,
    );
  }

  async function renderDepartment(
    request: FastifyRequest,
    reply: FastifyReply,
    route: DepartmentOverview,
    options: { name?: string; nameError?: FieldError | null; failure?: { key: MessageKey } | null; status?: number } = {},
  ) {
    const data = {
      title: route.department.name,
      route,
      name: options.name ?? route.department.name,
      nameError: options.nameError ?? null,
      failure: options.failure ?? null,
      limits: departmentLimits,
      path: `/departments/${route.department.code}`,
    };
    if (wantsFragment(request, serversTarget)) return reply.fragment('departments/_servers', data, options.status ?? 200);
    return reply.page('departments/show', data, options.status ?? 200);
  }

  app.get('/departments', { config: { access: 'viewer' } }, async (request, reply) => renderList(request, reply));

  app.post('/departments', async (request, reply) => {
    const result = validateDepartmentForm(request.form);
    if (!result.ok) return renderList(request, reply, { values: result.values, errors: result.errors, status: 422 });
    try {
      const department = await departments.createDepartment(result.value, actorOf(request));
      reply.flash('success', 'flash.department.created', { name: department.name });
      return redirectAfterPost(request, reply, `/departments/${department.code}`);
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderList(request, reply, { values: result.value, failure, status: 503 });
      if (!(err instanceof DuplicateCodeError)) throw err;
      return renderList(request, reply, { values: result.value, errors: { code: { key: 'error.department.code.taken', params: { code: err.code } } }, status: 422 });
    }
  });

  app.get<CodeParams>('/departments/:code', { config: { access: 'viewer' } }, async (request, reply) => {
    const route = await departments.route(request.params.code);
    if (!route) return notFoundPage(reply);
    return renderDepartment(request, reply, route);
  });

  // Renames it: the code, in links and in the API, never changes.
  app.post<CodeParams>('/departments/:code', async (request, reply) => {
    const route = await departments.route(request.params.code);
    if (!route) return notFoundPage(reply);
    const { name, error } = validateName(request.form.name);
    if (error) return renderDepartment(request, reply, route, { name, nameError: error, status: 422 });
    try {
      await departments.renameDepartment(route.department.code, name, actorOf(request));
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderDepartment(request, reply, route, { name, failure, status: 503 });
      throw err;
    }
    reply.flash('success', 'flash.department.renamed', { name });
    return redirectAfterPost(request, reply, `/departments/${route.department.code}`);
  });

  app.post<CodeParams>('/departments/:code/active', async (request, reply) => {
    const active = request.form.active === '1';
    const department = await departments.setDepartmentActive(request.params.code, active, actorOf(request));
    if (!department) return notFoundPage(reply);
    reply.flash('success', active ? 'flash.department.activated' : 'flash.department.deactivated', { name: department.name });
    return redirectAfterPost(request, reply, `/departments/${department.code}`);
  });

  // Move up / move down: a plain form that reloads the page; with htmx, only the list of servers is redrawn.
  app.post<ServerParams>('/departments/:code/servers/:id/move', async (request, reply) => {
    const id = parseId(request.params.id);
    const direction = request.form.direction;
    if (id === null || (direction !== 'up' && direction !== 'down')) return notFoundPage(reply);
    const outcome = await departments.moveServer(request.params.code, id, direction, actorOf(request));
    if (outcome === 'missing') return notFoundPage(reply);
    const route = (await departments.route(request.params.code))!;
    if (wantsFragment(request, serversTarget)) return renderDepartment(request, reply, route);
    if (outcome === 'moved') reply.flash('success', direction === 'up' ? 'flash.department.movedUp' : 'flash.department.movedDown', { title: route.servers.find((s) => s.id === id)?.title ?? '' });
    return reply.redirect(`/departments/${route.department.code}`, 303);
  });
}
