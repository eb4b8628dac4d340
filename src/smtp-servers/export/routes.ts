import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  runExport,
  type ExportContext,
  type ExportFormat,
} from './index.js';
import { exportAuditSummary, exportStream, settleExport } from './response.js';

function auditSummary(format: ExportFormat, rows: number, state: ListState, aborted: boolean): string {
  const filters = filterNames.filter((name) => state[name]).map((name) => `${name}=${state[name]}`);
  return exportAuditSummary(format, rows, state.q, filters, 'toute la liste', aborted);
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
    const { out, signal } = exportStream(reply);

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
      signal,
      progress: { rows: 0 },
    };
    const actor = actorOf(request);
    const record = (rows: number, aborted: boolean) =>
      app.repositories.audit.record(actor, { action: 'server.export', targetType: 'smtp_server', summary: auditSummary(format, rows, state, aborted) });
    void settleExport(request, runExport(format, job, { separator: csvSeparatorFrom(query.sep, request.locale) }), job, record, `${format} export`).finally(() => snapshot.close());

    return reply.send(out);
  }

  for (const format of exportFormats) {
    app.get(`/smtp-servers/export.${format}`, { config: { access: 'viewer' } }, (request, reply) => exportList(format, request, reply));
  }
}
