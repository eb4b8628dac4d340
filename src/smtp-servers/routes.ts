import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logoChangeFrom } from '../signature/form.js';
import { serverFormFiles } from '../signature/logo.js';
import { actorOf } from '../web/actor.js';
import { storeWriteMessage } from '../web/errors.js';
import { certificateWarningsFor } from '../health-checks/service.js';
import { currentPath, wantsFragment } from '../web/render.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';
import { listReturnPath } from '../web/return-path.js';
import { columnLabelKey, columnsCookieName, perPageChoices, serializeColumns, serverColumns, tableCells, visibleColumnsFrom, type ServerColumn } from './columns.js';
import { renderServerForm, type ServerFormView } from './form-view.js';
import { ariaSort, filterChoices, filterNames, listStateFrom, listUrl, sortLink, type ListState } from './list-query.js';
import { DuplicateTitleError, LastUsableServerError, StaleServerError, type Department, type ServerView } from './repository.js';
import {
  limits,
  passwordNudgeOf,
  serverFormLists,
  storedOAuthSecretOf,
  storedPasswordOf,
  suggestedPorts,
  validateServerForm,
  withServiceAccountKeyFile,
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
    oauthTenant: '',
    oauthClientId: '',
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
    oauthTenant: server.oauthTenant,
    oauthClientId: server.oauthClientId,
  };
}

/** The departments a server may be linked to: the active ones, and those it is linked to already. */
function offeredCodes(departments: Department[], linked: { code: string }[] = []): string[] {
  return departments.filter((d) => d.active || linked.some((l) => l.code === d.code)).map((d) => d.code);
}

/** The administrator ticked the box (or pressed the button) that accepts leaving these departments with no server. */
function lastUsableConfirmed(body: Record<string, unknown>): boolean {
  return body.confirmLastUsable === 'on';
}

function combinationOf(server: ServerView): Combination {
  return { port: server.port, security: server.security, authentication: server.authentication };
}

export async function smtpServerRoutes(app: FastifyInstance) {
  const servers = app.repositories.smtpServers;

  async function tableData(request: FastifyRequest, state: ListState) {
    const columns = visibleColumnsFrom(request.cookies[columnsCookieName]);
    const result = await servers.listServers(state);
    const certificateWarnings = await certificateWarningsFor(app.stores, result.rows.map((row) => row.id));
    return {
      certificateWarnings,
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
      passwordNudgeOf,
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
    const warnings = await app.repositories.departments.warnings();
    return reply.page('smtp-servers/index', { ...data, warnings, title: request.t('servers.title') });
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

  app.post('/smtp-servers', { config: { formLists: serverFormLists, formFiles: serverFormFiles } }, async (request, reply) => {
    const departments = await servers.listDepartments();
    const body = withServiceAccountKeyFile(request.form, request.formFiles);
    const copyOf = await copySource(body.duplicateOf);
    // A copy may reuse its source's password, towards the same server only (the rule an edit follows).
    const result = validateServerForm(body, {
      departmentCodes: offeredCodes(departments, copyOf?.departments),
      storedPassword: storedPasswordOf(copyOf),
      storedOAuthSecret: storedOAuthSecretOf(copyOf),
    });
    const logo = logoChangeFrom(body, request.formFiles, { copyOf: copyOf?.id });
    if (!result.ok || !logo.ok) {
      const errors: ServerFormErrors = { ...(result.ok ? {} : result.errors), ...(logo.ok ? {} : { logo: logo.error }) };
      return renderForm(request, reply, { server: null, copyOf, values: result.values, errors, status: 422 });
    }
    try {
      const server = await servers.createServer(result.value, actorOf(request), { ...(copyOf ? { copyOf: copyOf.id } : {}), logo: logo.change });
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

  app.post<IdParams>('/smtp-servers/:id', { config: { formLists: serverFormLists, formFiles: serverFormFiles } }, async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return id === null ? notFoundPage(reply) : serverDeleted(reply);
    const departments = await servers.listDepartments();
    const body = withServiceAccountKeyFile(request.form, request.formFiles);
    const result = validateServerForm(body, {
      departmentCodes: offeredCodes(departments, server.departments),
      storedPassword: storedPasswordOf(server),
      storedCombination: combinationOf(server),
      storedOAuthSecret: storedOAuthSecretOf(server),
    });
    const logo = logoChangeFrom(body, request.formFiles);
    if (!result.ok || !logo.ok) {
      const errors: ServerFormErrors = { ...(result.ok ? {} : result.errors), ...(logo.ok ? {} : { logo: logo.error }) };
      return renderForm(request, reply, { server, values: result.values, errors, status: 422 });
    }
    // Its usage changed so that a department it alone sends for would have none left: asked once, named.
    const lastUsable = await servers.departmentsLeftWithout(server.id, result.value);
    if (lastUsable.length && !lastUsableConfirmed(body)) {
      const errors: ServerFormErrors = { confirmLastUsable: { key: 'error.lastUsable.required', params: { departments: lastUsable.map((d) => d.name).join(', ') } } };
      return renderForm(request, reply, { server, values: result.values, errors, lastUsable, status: 422 });
    }
    try {
      const updated = await servers.updateServer(server.id, result.value, actorOf(request), { expectedVersion: versionOf(body.version), confirmedLastUsable: lastUsable, logo: logo.change });
      if (!updated) return serverDeleted(reply);
      reply.flash('success', 'flash.updated', { title: updated.server.title });
      return redirectAfterPost(request, reply, '/smtp-servers');
    } catch (err) {
      const failure = storeWriteMessage(err);
      if (failure) return renderForm(request, reply, { server, values: result.values, errors: {}, failure, status: 503 });
      // Saved meanwhile by someone else: the form shows what was typed, and saving again replaces the other change.
      // Another admin's change, committed meanwhile, made this server the last usable one of a department: asked now.
      if (err instanceof LastUsableServerError) {
        const errors: ServerFormErrors = { confirmLastUsable: { key: 'error.lastUsable.required', params: { departments: err.departments.map((d) => d.name).join(', ') } } };
        return renderForm(request, reply, { server, values: result.values, errors, lastUsable: err.departments, status: 422 });
      }
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
    const lastUsable = await servers.departmentsLeftWithout(server.id);
    return reply.page('smtp-servers/delete', { server, lastUsable, error: false, title: request.t('delete.title', { title: server.title }), back: currentPath(request) });
  });

  app.post<IdParams>('/smtp-servers/:id/delete', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFoundPage(reply);
    const lastUsable = await servers.departmentsLeftWithout(server.id);
    if (lastUsable.length && !lastUsableConfirmed(request.form)) {
      return reply.page('smtp-servers/delete', { server, lastUsable, error: true, title: request.t('delete.title', { title: server.title }), path: `/smtp-servers/${server.id}/delete` }, 422);
    }
    let deleted;
    try {
      deleted = await servers.deleteServer(server.id, actorOf(request), { confirmedLastUsable: lastUsable });
    } catch (err) {
      if (!(err instanceof LastUsableServerError)) throw err;
      return reply.page('smtp-servers/delete', { server, lastUsable: err.departments, error: true, title: request.t('delete.title', { title: server.title }), path: `/smtp-servers/${server.id}/delete` }, 422);
    }
    if (!deleted) return notFoundPage(reply);
    reply.flash('success', 'flash.deleted', { title: deleted.title });
    return redirectAfterPost(request, reply, '/smtp-servers');
  });

  // Deactivate / reactivate, from the list's row and from the server's page; a deactivation that would leave a
  // department with no usable server first shows a page naming it, whose button confirms.
  app.post<IdParams>('/smtp-servers/:id/active', async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFoundPage(reply);
    const body = request.form;
    const ownPage = `/smtp-servers/${server.id}/edit`;
    const back = body.back === ownPage ? ownPage : listReturnPath(body.back);
    const active = body.active === '1';
    const lastUsable = active ? [] : await servers.departmentsLeftWithout(server.id);
    if (lastUsable.length && !lastUsableConfirmed(body)) {
      return reply.page('smtp-servers/deactivate', { server, lastUsable, back, title: request.t('deactivate.title', { title: server.title }), path: back });
    }
    let updated;
    try {
      updated = await servers.setServerActive(server.id, active, actorOf(request), { confirmedLastUsable: lastUsable });
    } catch (err) {
      if (!(err instanceof LastUsableServerError)) throw err;
      return reply.page('smtp-servers/deactivate', { server, lastUsable: err.departments, back, title: request.t('deactivate.title', { title: server.title }), path: back });
    }
    if (!updated) return notFoundPage(reply);
    reply.flash('success', active ? 'flash.server.activated' : 'flash.server.deactivated', { title: updated.title });
    return redirectAfterPost(request, reply, back);
  });
}
