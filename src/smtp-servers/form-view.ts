import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MessageKey } from '../i18n/index.js';
import { logoLimits } from '../signature/logo.js';
import { signaturePreview } from '../signature/preview.js';
import { logoPlaceholder } from '../signature/sanitize.js';
import { serverHealthOf } from '../health-checks/service.js';
import { wantsFragment } from '../web/render.js';
import type { Department, ServerView } from './repository.js';
import { combinationMismatches, mismatchesOfValues, passwordNudgeOf, suggestedPorts, type ServerFormErrors, type ServerFormValues } from './validation.js';

const formTarget = 'server-form';

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
  /** The departments this edit would leave with no usable server: the form asks to confirm it. */
  lastUsable?: Department[];
}

/** The logo stored (or to be copied), and the signature's preview showing it through the logo route. */
async function signatureView(app: FastifyInstance, request: FastifyRequest, options: ServerFormView) {
  const logos = app.repositories.logos;
  const logo = options.server ? await logos.describe(options.server.id) : null;
  const copyLogo = !options.server && options.copyOf ? await logos.describe(options.copyOf.id) : null;
  const shown = logo ?? copyLogo;
  const logoUrl = shown ? `/smtp-servers/${shown.serverId}/logo?v=${shown.updatedAt.getTime()}` : null;
  return {
    logo,
    copyLogo,
    logoUrl,
    logoLimits: { maxKb: logoLimits.bytes / 1024, maxWidth: logoLimits.width, maxHeight: logoLimits.height },
    logoPlaceholder,
    // A file chosen does not survive the form coming back: the field says it must be chosen again.
    logoDropped: request.method === 'POST' && request.formFiles?.logo !== undefined,
    removeLogo: request.method === 'POST' && request.form?.removeLogo === 'on',
    preview: signaturePreview(options.values.signature, logoUrl, request.t('form.signature.logoMissing')),
    previewAction: options.server ? `/smtp-servers/${options.server.id}/edit/preview` : '/smtp-servers/new/preview',
  };
}

/** The create/edit form: the whole page, or the form alone when htmx asked for it. */
export async function renderServerForm(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, options: ServerFormView) {
  const departments = await app.repositories.smtpServers.listDepartments();
  const body = (request.method === 'POST' ? request.body ?? {} : {}) as Record<string, unknown>;
  const signature = await signatureView(app, request, options);
  const health = options.server ? await serverHealthOf(app.stores, options.server.id, { enabled: app.config.healthCheckIntervalMs > 0 }) : null;
  const data = {
    server: options.server,
    health,
    copyOf: options.copyOf ?? null,
    mismatches: mismatchesOfValues(options.values),
    nudge: passwordNudgeOf(options.values),
    allMismatches: combinationMismatches,
    // The page never gets a typed password back: when one was typed, the field says it must be typed again.
    passwordDropped: typeof body.password === 'string' && body.password !== '',
    values: options.values,
    errors: options.errors,
    // A deactivated department is offered only to the servers linked to it already.
    departments: departments.filter((d) => d.active || options.values.departments.includes(d.code) || Boolean(options.server?.departments.some((l) => l.code === d.code))),
    lastUsable: options.lastUsable ?? [],
    suggestedPorts,
    action: options.server ? `/smtp-servers/${options.server.id}` : '/smtp-servers',
    testAction: options.server ? `/smtp-servers/${options.server.id}/edit/test` : '/smtp-servers/new/test',
    test: options.test ?? null,
    failure: options.failure ?? null,
    version: options.version ?? (typeof body.version === 'string' ? body.version : options.server?.version),
    ...signature,
    title: options.server ? request.t('form.editTitle', { title: options.server.title }) : request.t('form.newTitle'),
    // After a POST the address bar shows the POST URL; links back to "this page" must name the form's own page.
    path: options.server ? `/smtp-servers/${options.server.id}/edit` : '/smtp-servers/new',
  };
  // htmx swaps no 5xx: a failed write comes back as a whole page, which the page's script shows in place.
  if (wantsFragment(request, formTarget) && !options.failure) return reply.fragment('smtp-servers/_form', data, options.status);
  return reply.page('smtp-servers/form-page', data, options.status);
}
