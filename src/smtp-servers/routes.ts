import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MessageKey } from '../i18n/index.js';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { currentPath, wantsFragment } from '../web/render.js';
import { columnLabelKey, columnsCookieName, perPageChoices, serializeColumns, serverColumns, tableCells, visibleColumnsFrom, type ServerColumn } from './columns.js';
import { ariaSort, filterChoices, filterNames, listStateFrom, listUrl, sortLink, type ListState } from './list-query.js';
import { DuplicateTitleError, StaleServerError, type ServerView } from './repository.js';
import {
  combinationMismatches,
  limits,
  mismatchesOfValues,
  serverFormLists,
  storedPasswordOf,
  suggestedPorts,
  validateServerForm,
  type Combination,
  type ServerFormErrors,
  type ServerFormValues,
} from './validation.js';

const tableTarget = 'servers-table';
const formTarget = 'server-form';

type IdParams = { Params: { id: string } };

export function parseId(raw: string): number | null {
  return /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : null;
}

/** The version an edit form was filled from; a form without one (an old page, a script) is not checked, a garbled one never matches. */
function versionOf(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  return typeof raw === 'string' && /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : 0;
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
    signature: server.signature,
    clearPassword: false,
    confirmCombination: false,
  };
}

function combinationOf(server: ServerView): Combination {
  return { port: server.port, security: server.security, authentication: server.authentication };
}

export interface ServerFormView {
  server: ServerView | null;
  /** A new server's form filled from this one (Dupliquer): nothing is saved until « Créer le serveur ». */
  copyOf?: ServerView | null;
  values: ServerFormValues;
  errors: ServerFormErrors;
  status: number;
  /** A connection test of the values typed (the "Tester avant d'enregistrer" button). */
  test?: Record<string, unknown>;
  /** The store refused the write: said above the form, the values typed kept. */
  failure?: { key: MessageKey } | null;
  /** The server's version the form is based on, sent back with it; by default the one it came with, else the server's. */
  version?: number;
}

/** The create/edit form: the whole page, or the form alone when htmx asked for it. */
export async function renderServerForm(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, options: ServerFormView) {
  const departments = await app.repositories.smtpServers.listDepartments();
  const body = (request.method === 'POST' ? request.body ?? {} : {}) as Record<string, unknown>;
  const data = {
    server: options.server,
    copyOf: options.copyOf ?? null,
    mismatches: mismatchesOfValues(options.values),
    allMismatches: combinationMismatches,
    // The page never gets a typed password back: when one was typed, the field says it must be typed again.
    passwordDropped: typeof body.password === 'string' && body.password !== '',
    values: options.values,
    errors: options.errors,
    departments,
    suggestedPorts,
    action: options.server ? `/smtp-servers/${options.server.id}` : '/smtp-servers',
    testAction: options.server ? `/smtp-servers/${options.server.id}/edit/test` : '/smtp-servers/new/test',
    test: options.test ?? null,
    failure: options.failure ?? null,
    version: options.version ?? (typeof body.version === 'string' ? body.version : options.server?.version),
    title: options.server ? request.t('form.editTitle', { title: options.server.title }) : request.t('form.newTitle'),
    // After a POST the address bar shows the POST URL; links back to "this page" must name the form's own page.
    path: options.server ? `/smtp-servers/${options.server.id}/edit` : '/smtp-servers/new',
  };
  // htmx swaps no 5xx: a failed write comes back as a whole page, which the page's script shows in place.
  if (wantsFragment(request, formTarget) && !options.failure) return reply.fragment('smtp-servers/_form', data, options.status);
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
    options: ServerFormView,
  ) {
    return renderServerForm(app, request, reply, options);
  }

  async function notFound(reply: FastifyReply) {
    return reply.page('errors/error', { titleKey: 'page.notFound.title', bodyKey: 'page.notFound.body', params: {} }, 404);
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
    if (from !== undefined && !copyOf) return notFound(reply);
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
    if (!server) return notFound(reply);
    return renderForm(request, reply, { server, values: formValuesOf(server), errors: {}, status: 200 });
  });

  app.post<IdParams>('/smtp-servers/:id', { config: { formLists: serverFormLists } }, async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return id === null ? notFound(reply) : serverDeleted(reply);
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
    if (!source) return notFound(reply);
    return redirectAfterPost(request, reply, `/smtp-servers/new?from=${source.id}`);
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
