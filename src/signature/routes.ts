import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderServerForm } from '../smtp-servers/form-view.js';
import type { ServerView } from '../smtp-servers/repository.js';
import { formValuesFrom, serverFormLists } from '../smtp-servers/validation.js';
import { wantsFragment } from '../web/render.js';
import { notFoundPage, parseId, type IdParams } from '../web/replies.js';
import { logoExtension, serverFormFiles } from './logo.js';
import { signaturePreview } from './preview.js';
import { logoPlaceholder } from './sanitize.js';

const previewTarget = 'signature-preview';

export async function signatureRoutes(app: FastifyInstance) {
  const servers = app.repositories.smtpServers;
  const logos = app.repositories.logos;

  /** The logo's address for the preview: the server's own, else (a copy) its source's. */
  async function logoUrlFor(serverId: number | null): Promise<string | null> {
    const logo = serverId === null ? null : await logos.describe(serverId);
    return logo ? `/smtp-servers/${logo.serverId}/logo?v=${logo.updatedAt.getTime()}` : null;
  }

  /**
   * The signature typed, shown as it will be sent: with htmx, the preview region alone as the admin types; without
   * JavaScript (« Prévisualiser »), the whole form again with every value kept but the password and the file.
   */
  async function preview(request: FastifyRequest, reply: FastifyReply, server: ServerView | null) {
    const values = formValuesFrom(request.form);
    if (wantsFragment(request, previewTarget)) {
      const copyOf = typeof request.form.duplicateOf === 'string' ? parseId(request.form.duplicateOf) : null;
      const logoUrl = await logoUrlFor(server?.id ?? copyOf);
      return reply.fragment('signature/_preview', {
        preview: signaturePreview(values.signature, logoUrl, request.t('form.signature.logoMissing')),
        logoPlaceholder,
      });
    }
    const copyId = !server && typeof request.form.duplicateOf === 'string' ? parseId(request.form.duplicateOf) : null;
    const copyOf = copyId === null ? null : await servers.findServer(copyId);
    return renderServerForm(app, request, reply, { server, copyOf, values, errors: {}, status: 200 });
  }

  const formConfig = { access: 'admin', formLists: serverFormLists, formFiles: serverFormFiles } as const;

  app.post('/smtp-servers/new/preview', { config: formConfig }, async (request, reply) => preview(request, reply, null));

  app.post<IdParams>('/smtp-servers/:id/edit/preview', { config: formConfig }, async (request, reply) => {
    const id = parseId(request.params.id);
    const server = id === null ? null : await servers.findServer(id);
    if (!server) return notFoundPage(reply);
    return preview(request, reply, server);
  });

  // Anyone signed in may see it (the list's readers preview mails too); nothing in it is run or sniffed as a page.
  app.get<IdParams>('/smtp-servers/:id/logo', { config: { access: 'viewer' } }, async (request, reply) => {
    const id = parseId(request.params.id);
    const logo = id === null ? null : await logos.find(id);
    if (!logo) return notFoundPage(reply);
    return reply
      .header('Content-Type', logo.contentType)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', "default-src 'none'")
      .header('Content-Disposition', `inline; filename="logo-${logo.serverId}.${logoExtension(logo.contentType)}"`)
      .header('Cache-Control', 'private, no-cache')
      .send(logo.bytes);
  });
}
