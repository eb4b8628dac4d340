import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../web/actor.js';
import { currentPath, wantsFragment } from '../web/render.js';
import { columnLabelKey, columnsCookieName, perPageChoices, serializeColumns, serverColumns, tableCells, visibleColumnsFrom, type ServerColumn } from './columns.js';
import { ariaSort, filterChoices, filterNames, listStateFrom, listUrl, sortLink, type ListState } from './list-query.js';
import { DuplicateTitleError, type ServerView } from './repository.js';
import { limits, validateServerForm, suggestedPorts, type ServerFormErrors, type ServerFormValues, type StoredPasswordTarget } from './validation.js';

const tableTarget = 'servers-table';
const formTarget = 'server-form';

type IdParams = { Params: { id: string } };

export function parseId(raw: string): number | null {
  return /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : null;
}

/** After a successful POST: htmx is told to load the page itself, a plain form gets 303 See Other. */
export function redirectAfterPost(request: FastifyRequest, reply: FastifyReply, url: string) {
  if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', url).code(200).send('');
  return reply.redirect(url, 303);
}

/** "Titre (copie 2)", the title shortened if need be so the copy can be saved as it is. */
export function copyTitle(title: string, suffix: string): string {
  const tail = ` (${suffix})`;
  return `${[...title].slice(0, limits.title - tail.length).join('').trimEnd()}${tail}`;
}

export function storedPasswordOf(server: ServerView | null): StoredPasswordTarget | null {
  if (!server?.hasPassword) return null;
  return { host: server.host, port: server.port, security: server.security, username: server.username, verifyCertificate: server.verifyCertificate };
}

function emptyFormValues(): ServerFormValues {
  return {
    title: '',
    host: '',
    port: String(suggestedPorts.starttls),
    security: 'starttls',
    authentication: 'password',
    email: '',
    senderName: '',
    username: '',
    usage: 'default',
    departments: [],
    verifyCertificate: true,
    signature: '',
    clearPassword: false,
  };
}

function formValuesOf(server: ServerView): ServerFormValues {
  return {
    title: server.title,
    host: server.host,
    port: String(server.port),
    security: server.security,
    authentication: server.authentication,
    email: server.email,
    senderName: server.senderName,
    username: server.username,
    usage: server.usage,
    departments: server.departments.map((d) => d.code),
    verifyCertificate: server.verifyCertificate,
    signature: server.signature,
    clearPassword: false,
  };
}

export interface ServerFormView {
  server: ServerView | null;
  values: ServerFormValues;
  errors: ServerFormErrors;
  status: number;
  /** A connection test of the values typed (the "Tester avant d'enregistrer" button). */
  test?: Record<string, unknown>;
}

/** The create/edit form: the whole page, or the form alone when htmx asked for it. */
export async function renderServerForm(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, options: ServerFormView) {
  const departments = await app.repositories.smtpServers.listDepartments();
  const data = {
    server: options.server,
    values: options.values,
    errors: options.errors,
    departments,
    suggestedPorts,
    action: options.server ? `/smtp-servers/${options.server.id}` : '/smtp-servers',
    testAction: options.server ? `/smtp-servers/${options.server.id}/edit/test` : '/smtp-servers/new/test',
    test: options.test ?? null,
    title: options.server ? request.t('form.editTitle', { title: options.server.title }) : request.t('form.newTitle'),
    // After a POST the address bar shows the POST URL; links back to "this page" must name the form's own page.
    path: options.server ? `/smtp-servers/${options.server.id}/edit` : '/smtp-servers/new',
  };
  if (wantsFragment(request, formTarget)) return reply.fragment('smtp-servers/_form', data, options.status);
  return reply.page('smtp-servers/form-page', data, options.status);
}

export async function smtpServerRoutes(app: FastifyInstance) {
  const servers = app.repositories.smtpServers;

  async function tableData(request: FastifyRequest, state: ListState) {
    const columns = visibleColumnsFrom(request.cookies[columnsCookieName]);
    const result = await servers.listServers(state);
    return {
      state: { ...state, page: result.page },
      result,
      columns,
      cells: tableCells(columns),
      allColumns: serverColumns,
      columnLabelKey,
      perPageChoices,
      listUrl,
      sortLink,
      filterNames,
      filterChoices,
      ariaSort,
    };
  }

  async function renderForm(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { server: ServerView | null; values: ServerFormValues; errors: ServerFormErrors; status: number },
  ) {
    return renderServerForm(app, request, reply, options);
  }

  async function notFound(reply: FastifyReply) {
    return reply.page('errors/error', { titleKey: 'page.notFound.title', bodyKey: 'page.notFound.body', params: {} }, 404);
  }

  app.get('/smtp-servers', { config: { access: 'viewer' } }, async (request, reply) => {
    const state = listStateFrom(request.query as Record<string, unknown>);
    const data = await tableData(request, state);
    if (wantsFragment(request, tableTarget)) return reply.fragment('smtp-servers/_table', data);
    return reply.page('smtp-servers/index', { ...data, title: request.t('servers.title') });
  });

  app.post('/smtp-servers/columns', { config: { access: 'viewer' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const restore = body.restore !== undefined;
    const columns: ServerColumn[] = restore ? [...serverColumns] : visibleColumnsFrom(body.columns);
    if (restore) reply.clearCookie(columnsCookieName, { path: '/' });
    else reply.setCookie(columnsCookieName, serializeColumns(columns), { path: '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 24 * 3600 });
    // The table drawn in this response must use the new choice, not the cookie the request came with.
    request.cookies[columnsCookieName] = restore ? '' : serializeColumns(columns);
    const state = listStateFrom(body);
    if (wantsFragment(request, tableTarget)) return reply.fragment('smtp-servers/_table', await tableData(request, state));
    reply.flash('success', restore ? 'flash.columnsRestored' : 'flash.columnsSaved');
    return reply.redirect(listUrl(state), 303);
  });

  app.get('/smtp-servers/new', async (request, reply) => {
    return renderForm(request, reply, { server: null, values: emptyFormValues(), errors: {}, status: 200 });
  });

  app.post('/smtp-servers', async (request, reply) => {
    const departments = await servers.listDepartments();
    const body = (request.body ?? {}) as Record<string, unknown>;
    const result = validateServerForm(body, { departmentCodes: departments.map((d) => d.code), storedPassword: null });
    if (!result.ok) return renderForm(request, reply, { server: null, values: result.values, errors: result.errors, status: 422 });
    try {
      const server = await servers.createServer(result.value, actorOf(request));
      reply.flash('success', 'flash.created', { title: server.title });
      return redirectAfterPost(request, reply, '/smtp-servers');
    } catch (err) {
      if (!(err instanceof DuplicateTitleError)) throw err;
      const errors: ServerFormErrors = { title: { key: 'error.title.taken', params: { title: result.value.title } } };
      return renderForm(request, reply, { server: null, values: result.values, errors, status: 422 });
    }
  });

  app.get<IdParams>('/smtp-servers/:id/edit', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFound(reply);
    return renderForm(request, reply, { server, values: formValuesOf(server), errors: {}, status: 200 });
  });

  app.post<IdParams>('/smtp-servers/:id', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFound(reply);
    const departments = await servers.listDepartments();
    const body = (request.body ?? {}) as Record<string, unknown>;
    const result = validateServerForm(body, { departmentCodes: departments.map((d) => d.code), storedPassword: storedPasswordOf(server) });
    if (!result.ok) return renderForm(request, reply, { server, values: result.values, errors: result.errors, status: 422 });
    try {
      const updated = await servers.updateServer(server.id, result.value, actorOf(request));
      if (!updated) return notFound(reply);
      reply.flash('success', 'flash.updated', { title: updated.server.title });
      return redirectAfterPost(request, reply, '/smtp-servers');
    } catch (err) {
      if (!(err instanceof DuplicateTitleError)) throw err;
      const errors: ServerFormErrors = { title: { key: 'error.title.taken', params: { title: result.value.title } } };
      return renderForm(request, reply, { server, values: result.values, errors, status: 422 });
    }
  });

  app.post<IdParams>('/smtp-servers/:id/duplicate', async (request, reply) => {
    const id = parseId(request.params.id);
    const suffix = request.t('duplicate.suffix');
    const copy =
      id === null
        ? null
        : await servers.duplicateServer(id, (title, attempt) => copyTitle(title, `${suffix}${attempt > 1 ? ` ${attempt}` : ''}`), actorOf(request));
    if (!copy) return notFound(reply);
    reply.flash('success', 'flash.duplicated', { title: copy.title });
    return redirectAfterPost(request, reply, `/smtp-servers/${copy.id}/edit`);
  });

  app.get<IdParams>('/smtp-servers/:id/delete', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFound(reply);
    return reply.page('smtp-servers/delete', { server, title: request.t('delete.title', { title: server.title }), back: currentPath(request) });
  });

  app.post<IdParams>('/smtp-servers/:id/delete', async (request, reply) => {
    const id = parseId(request.params.id);
    const deleted = id === null ? null : await servers.deleteServer(id, actorOf(request));
    if (!deleted) return notFound(reply);
    reply.flash('success', 'flash.deleted', { title: deleted.title });
    return redirectAfterPost(request, reply, '/smtp-servers');
  });
}
