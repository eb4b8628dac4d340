import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { actorOf } from '../../web/actor.js';
import { columnsCookieName, visibleColumnsFrom } from '../columns.js';
import { filterNames, listStateFrom, type ListState } from '../list-query.js';
import {
  contentTypes,
  csvSeparatorFrom,
  displayTimeZone,
  exportColumns,
  exportFileName,
  exportFormats,
  isExportAborted,
  runExport,
  type ExportContext,
  type ExportFormat,
} from './index.js';

export const outputBuffer = 256 * 1024;

/** The audit trail is kept in French, like the rest of it. */
function auditSummary(format: ExportFormat, rows: number, state: ListState, aborted: boolean): string {
  const lines = `${rows.toLocaleString('fr-FR')} ${rows > 1 ? 'lignes' : 'ligne'}`;
  const filters = filterNames.filter((name) => state[name]).map((name) => `${name}=${state[name]}`);
  const scope = [state.q ? `recherche « ${state.q} »` : '', filters.length ? `filtres ${filters.join(' ')}` : ''].filter(Boolean).join(', ');
  return `${format.toUpperCase()}, ${lines}, ${scope || 'toute la liste'}${aborted ? ' — interrompu (client déconnecté)' : ''}`;
}

/**
 * GET /smtp-servers/export.xlsx, .csv and .pdf: what the list shows (search, filters, sort, visible columns), every
 * matching row, streamed as it is read. Viewers may export.
 */
export async function smtpServerExportRoutes(app: FastifyInstance) {
  const servers = app.repositories.smtpServers;

  async function exportList(format: ExportFormat, request: FastifyRequest, reply: FastifyReply) {
    const query = request.query as Record<string, unknown>;
    const state = listStateFrom(query);
    const context: ExportContext = { locale: request.locale, t: request.t, timeZone: displayTimeZone() };
    const exportedAt = new Date();
    const fileName = exportFileName(format, request.t, exportedAt, context.timeZone);
    reply.type(contentTypes[format]).header('Content-Disposition', `attachment; filename="${fileName}"`).header('Cache-Control', 'no-store');
    // HEAD asks for the headers alone: nothing is read, nothing was exported, so nothing is audited.
    if (request.method === 'HEAD') return reply.send();
    const columns = exportColumns(visibleColumnsFrom(request.cookies[columnsCookieName]), context);
    // Room for a few batches, so the file is made while the network takes the previous ones.
    const out = new PassThrough({ highWaterMark: outputBuffer });
    const controller = new AbortController();
    // 'close' before 'finish' means the client went away: stop reading rows.
    let delivered = false;
    reply.raw.once('finish', () => (delivered = true));
    reply.raw.once('close', () => {
      if (!delivered) controller.abort();
    });
    out.once('close', () => {
      if (!out.writableFinished) controller.abort();
    });

    const snapshot = servers.openReadSnapshot();
    const job = {
      batches: () => snapshot.batches(state),
      columns,
      context,
      meta: {
        title: request.t('servers.title'),
        sheetName: request.t('nav.servers'),
        exportedAt,
        q: state.q,
        sort: state.sort,
        dir: state.dir,
      },
      out,
      signal: controller.signal,
      progress: { rows: 0 },
    };
    const actor = actorOf(request);
    runExport(format, job, { separator: csvSeparatorFrom(query.sep, request.locale) }).then(
      (result) => app.repositories.audit.record(actor, { action: 'server.export', targetType: 'smtp_server', summary: auditSummary(format, result.rows, state, false) }),
      async (err: unknown) => {
        if (isExportAborted(err)) {
          request.log.info({ format, rows: job.progress.rows }, 'export interrupted by the client');
          await app.repositories.audit.record(actor, {
            action: 'server.export',
            targetType: 'smtp_server',
            summary: auditSummary(format, job.progress.rows, state, true),
          });
          out.destroy();
        } else {
          request.log.error({ err, format }, 'export failed');
          out.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      },
    )
      .catch((err: unknown) => request.log.error({ err }, 'recording the export failed'))
      .finally(() => snapshot.close());

    return reply.send(out);
  }

  for (const format of exportFormats) {
    app.get(`/smtp-servers/export.${format}`, { config: { access: 'viewer' } }, (request, reply) => exportList(format, request, reply));
  }
}
