import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale, MessageKey, Translate } from '../i18n/index.js';
import { replyWords } from '../outbox/own-replies.js';
import type { MessageSummary } from '../outbox/types.js';
import { DateCell, isoDay, type ExportColumnSpec, type ExportContext } from '../smtp-servers/export/columns.js';
import { contentTypes, csvSeparatorFrom, displayTimeZone } from '../smtp-servers/export/index.js';
import { exportAuditSummary, exportStream, settleExport } from '../smtp-servers/export/response.js';
import type { ExportJob, SheetMeta } from '../smtp-servers/export/types.js';
import { actorOf } from '../web/actor.js';
import { logChoices } from './choices.js';
import { logFilterNames, logStateFrom, outboxQueryOf, type LogState } from './list-query.js';

export const logExportFormats = ['xlsx', 'csv'] as const;
export type LogExportFormat = (typeof logExportFormats)[number];

export const logColumns = ['acceptedAt', 'department', 'to', 'subject', 'server', 'status', 'attempts', 'lastReply', 'id', 'messageId'] as const;
export type LogColumn = (typeof logColumns)[number];

type Shape = { width: number; value: (row: MessageSummary) => string | number | DateCell };

/** The log's columns in the reader's words; each reads named fields of the summary only (no body, no attachment). */
export function logExportColumns(context: ExportContext & { departmentNames: Record<string, string> }): ExportColumnSpec<MessageSummary, LogColumn>[] {
  const { t, locale, departmentNames } = context;
  const excelFormat = 'dd/mm/yyyy hh:mm';
  const statusWords = (status: MessageSummary['status']) => t(`sendLog.status.${status}` as MessageKey);
  const shapes: Record<LogColumn, Shape> = {
    acceptedAt: { width: 18, value: (m) => new DateCell(m.acceptedAt, locale as Locale, '', '', excelFormat) },
    department: { width: 16, value: (m) => departmentNames[m.department] ?? m.department },
    to: { width: 32, value: (m) => m.to.join(', ') },
    subject: { width: 40, value: (m) => m.subject },
    server: { width: 24, value: (m) => m.serverTitle ?? '' },
    status: { width: 20, value: (m) => statusWords(m.status) },
    attempts: { width: 10, value: (m) => m.attemptCount },
    lastReply: { width: 48, value: (m) => replyWords(m.lastReply, t) },
    id: { width: 24, value: (m) => m.id },
    messageId: { width: 48, value: (m) => m.messageId },
  };
  return logColumns.map((key) => {
    const label = t(`sendLog.export.column.${key}` as MessageKey);
    return { key, label, width: Math.max(shapes[key].width, label.length + 4), weight: 1, numeric: key === 'attempts', value: shapes[key].value };
  });
}

/** "journal-envois-2026-11-27.csv" (French) or "send-log-2026-11-27.csv" (English). */
export function logExportFileName(format: LogExportFormat, t: Translate, exportedAt: Date, timeZone: string): string {
  return `${t('sendLog.export.fileName')}-${isoDay(exportedAt, timeZone)}.${format}`;
}

function auditSummary(format: LogExportFormat, rows: number, state: LogState, aborted: boolean): string {
  const filters = logFilterNames.filter((name) => state[name]).map((name) => `${name}=${state[name]}`);
  return exportAuditSummary(format, rows, state.q, filters, 'tout le journal', aborted);
}

/** GET /messages/export.xlsx and .csv: every message the log's search and filters match, streamed as it is read. Viewers may export. */
export async function sendLogExportRoutes(app: FastifyInstance) {
  async function exportLog(format: LogExportFormat, request: FastifyRequest, reply: FastifyReply) {
    const query = request.query as Record<string, unknown>;
    const state = logStateFrom(query);
    const exportedAt = new Date();
    const timeZone = displayTimeZone();
    reply
      .type(contentTypes[format])
      .header('Content-Disposition', `attachment; filename="${logExportFileName(format, request.t, exportedAt, timeZone)}"`)
      .header('Cache-Control', 'no-store');
    if (request.method === 'HEAD') return reply.send();
    const { departmentNames } = await logChoices(app);
    const context = { locale: request.locale, t: request.t, timeZone, departmentNames };
    const { out, signal } = exportStream(reply);
    const job: ExportJob<MessageSummary, LogColumn, SheetMeta> = {
      batches: () => app.outbox.batches(outboxQueryOf(state)),
      columns: logExportColumns(context),
      context,
      meta: { sheetName: request.t('sendLog.title'), exportedAt },
      out,
      signal,
      progress: { rows: 0 },
    };
    const actor = actorOf(request);
    const record = (rows: number, aborted: boolean) =>
      app.repositories.audit.record(actor, { action: 'message.export', targetType: 'message', summary: auditSummary(format, rows, state, aborted) });
    const written =
      format === 'csv'
        ? import('../smtp-servers/export/csv.js').then(({ writeCsv }) => writeCsv(job, csvSeparatorFrom(query.sep, request.locale)))
        : import('../smtp-servers/export/xlsx.js').then(({ writeXlsx }) => writeXlsx(job));
    void settleExport(request, written, job, record, `send log ${format} export`);
    return reply.send(out);
  }

  for (const format of logExportFormats) {
    app.get(`/messages/export.${format}`, { config: { access: 'viewer' } }, (request, reply) => exportLog(format, request, reply));
  }
}
