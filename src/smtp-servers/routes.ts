import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { currentPath, wantsFragment } from '../web/render.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';
import { columnLabelKey, columnsCookieName, perPageChoices, serializeColumns, serverColumns, tableCells, visibleColumnsFrom, type ServerColumn } from './columns.js';
import { renderServerForm, type ServerFormView } from './form-view.js';
import { ariaSort, filterChoices, filterNames, listStateFrom, listUrl, sortLink, type ListState } from './list-query.js';
import { DuplicateTitleError, StaleServerError, type ServerView } from './repository.js';
import {
  limits,
  serverFormLists,
  storedPasswordOf,
  suggestedPorts,
  validateServerForm,
  type Combination,
  type ServerFormErrors,
  type ServerFormValues,
} from './validation.js';

const tableTarget = 'servers-table';

/** The version an edit form was filled from; a form without one (an old page, a script) is not checked, a garbled one never matches. */
function versionOf(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  return typeof raw === 'string' && /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : 0;
}

/** "Titre (copie 2)", the title shortened if need be so the copy can be saved as it is. */
export function copyTitle(title: string, suffix: string): string {
  const tail = ` (${suffix})`;
  return `${[...title].slice(0, limits.title - tail.length).join('').trimEnd()}${tail}`;
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
    rateLimitPerMinute: '',
    signature: '',
    clearPassword: false,
    confirmCombination: false,
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
    rateLimitPerMinute: server.rateLimitPerMinute == null ? '' : String(server.rateLimitPerMinute),
    signature: server.signature,
    clearPassword: false,
    confirmCombination: false,
  };
}

function combinationOf(server: ServerView): Combination {
  return { port: server.port, security: server.security, authentication: server.authentication };
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

  async function renderForm(request: FastifyRequest, reply: FastifyReply, options: ServerFormView) {
    return renderServerForm(app, request, reply, options);
  }

  /** An edit sent for a server deleted meanwhile (maybe from another instance). */
  async function serverDeleted(reply: FastifyReply) {
    return reply.page('errors/error', { titleKey: 'page.serverDeleted.title', bodyKey: 'page.serverDeleted.body', params: {} }, 404);
  }

  app.get('/smtp-servers', { config: { access: 'viewer' } }, async (request, reply) => {
    const state = listStateFrom(request.query as Record<string, unknown>);
    const data = await tableData(request, state);
    if (wantsFragment(request, tableTarget)) return reply.fragment('smtp-servers/_table', data);
    return reply.page('smtp-servers/index', { ...data, title: request.t('servers.title') });
  });

  app.post('/smtp-servers/columns', { config: { access: 'viewer', formLists: ['columns'] } }, async (request, reply) => {
    const body = request.form;
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

  /** The server a new-server form copies (`?from=` on the page, `duplicateOf` in the form), if it still exists. */
  async function copySource(raw: unknown): Promise<ServerView | null> {
    const id = typeof raw === 'string' ? parseId(raw) : null;
    return id === null ? null : servers.findServer(id);
  }

  async function copyValues(request: FastifyRequest, source: ServerView): Promise<ServerFormValues> {
    const suffix = request.t('duplicate.suffix');
    let title = copyTitle(source.title, suffix);
    for (let attempt = 2; await servers.titleTaken(title); attempt++) title = copyTitle(source.title, `${suffix} ${attempt}`);
    return { ...formValuesOf(source), title };
  }

  app.get('/smtp-servers/new', async (request, reply) => {
    const from = (request.query as Record<string, unknown>).from;
    const copyOf = from === undefined ? null : await copySource(from);
    if (from !== undefined && !copyOf) return notFoundPage(reply);
    const values = copyOf ? await copyValues(request, copyOf) : emptyFormValues();
    return renderForm(request, reply, { server: null, copyOf, values, errors: {}, status: 200 });
  });

  app.post('/smtp-servers', { config: { formLists: serverFormLists } }, async (request, reply) => {
    const departments = await servers.listDepartments();
    const body = request.form;
    const copyOf = await copySource(body.duplicateOf);
    // A copy may reuse its source's password, towards the same server only (the rule an edit follows).
    const result = validateServerForm(body, { departmentCodes: departments.map((d) => d.code), storedPassword: storedPasswordOf(copyOf) });
    if (!result.ok) return renderForm(request, reply, { server: null, copyOf, values: result.values, errors: result.errors, status: 422 });
    try {
      const server = await servers.createServer(result.value, actorOf(request), copyOf ? { copyOf: copyOf.id } : {});
      reply.flash('success', 'flash.created', { title: server.title });
      return redirectAfterPost(request, reply, '/smtp-servers');
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderForm(request, reply, { server: null, values: result.values, errors: {}, failure, status: 503, copyOf });
      if (!(err instanceof DuplicateTitleError)) throw err;
      const errors: ServerFormErrors = { title: { key: 'error.title.taken', params: { title: result.value.title } } };
      return renderForm(request, reply, { server: null, copyOf, values: result.values, errors, status: 422 });
    }
  });

  app.get<IdParams>('/smtp-servers/:id/edit', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFoundPage(reply);
    return renderForm(request, reply, { server, values: formValuesOf(server), errors: {}, status: 200 });
  });

  app.post<IdParams>('/smtp-servers/:id', { config: { formLists: serverFormLists } }, async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return id === null ? notFoundPage(reply) : serverDeleted(reply);
    const departments = await servers.listDepartments();
    const body = request.form;
    const result = validateServerForm(body, {
      departmentCodes: departments.map((d) => d.code),
      storedPassword: storedPasswordOf(server),
      storedCombination: combinationOf(server),
    });
    if (!result.ok) return renderForm(request, reply, { server, values: result.values, errors: result.errors, status: 422 });
    try {
      const updated = await servers.updateServer(server.id, result.value, actorOf(request), { expectedVersion: versionOf(body.version) });
      if (!updated) return serverDeleted(reply);
      reply.flash('success', 'flash.updated', { title: updated.server.title });
      return redirectAfterPost(request, reply, '/smtp-servers');
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderForm(request, reply, { server, values: result.values, errors: {}, failure, status: 503 });
      // Saved meanwhile by someone else: the form shows what was typed, and saving again replaces the other change.
      if (err instanceof StaleServerError) {
        const current = err.current;
        return renderForm(request, reply, { server: current, values: result.values, errors: {}, failure: { key: 'error.server.stale' }, status: 409, version: current.version });
      }
      if (!(err instanceof DuplicateTitleError)) throw err;
      const errors: ServerFormErrors = { title: { key: 'error.title.taken', params: { title: result.value.title } } };
      return renderForm(request, reply, { server, values: result.values, errors, status: 422 });
    }
  });

  // The list's « Dupliquer » button: the copy opens in the new-server form and nothing is saved before « Créer le serveur ».
  app.post<IdParams>('/smtp-servers/:id/duplicate', async (request, reply) => {
    const id = parseId(request.params.id);
    const source = id === null ? null : await servers.findServer(id);
    if (!source) return notFoundPage(reply);
    return redirectAfterPost(request, reply, `/smtp-servers/new?from=${source.id}`);
  });

  app.get<IdParams>('/smtp-servers/:id/delete', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFoundPage(reply);
    return reply.page('smtp-servers/delete', { server, title: request.t('delete.title', { title: server.title }), back: currentPath(request) });
  });

  app.post<IdParams>('/smtp-servers/:id/delete', async (request, reply) => {
    const id = parseId(request.params.id);
    const deleted = id === null ? null : await servers.deleteServer(id, actorOf(request));
    if (!deleted) return notFoundPage(reply);
    reply.flash('success', 'flash.deleted', { title: deleted.title });
    return redirectAfterPost(request, reply, '/smtp-servers');
  });
}
