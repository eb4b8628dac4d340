import type { Translate } from '../../i18n/index.js';
import { isoDay } from './columns.js';
import type { CsvSeparator } from './csv.js';
import type { ExportJob, ExportResult } from './types.js';

export { csvSeparatorFrom, type CsvSeparator } from './csv.js';
export { exportColumns, displayTimeZone, type ExportContext, type ExportMeta } from './columns.js';
export { isExportAborted } from './flow.js';
export type { ExportJob, ExportResult } from './types.js';

export const exportFormats = ['xlsx', 'csv', 'pdf'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export const contentTypes: Record<ExportFormat, string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8; header=present',
  pdf: 'application/pdf',
};

/** "serveurs-smtp-2026-11-27.xlsx" (French) or "smtp-servers-2026-11-27.xlsx" (English), dated in the display time zone. */
export function exportFileName(format: ExportFormat, t: Translate, exportedAt: Date, timeZone: string): string {
  return `${t('export.fileName')}-${isoDay(exportedAt, timeZone)}.${format}`;
}

export interface ExportOptions {
  /** CSV only. */
  separator: CsvSeparator;
}

/**
 * Writes the whole file to job.out and ends it; rejects with ExportAborted when the client goes away.
 * Each writer is loaded on first use: exceljs and pdfkit weigh about 30 MB each in memory.
 */
export async function runExport(format: ExportFormat, job: ExportJob, options: ExportOptions): Promise<ExportResult> {
  switch (format) {
    case 'csv':
      return (await import('./csv.js')).writeCsv(job, options.separator);
    case 'xlsx':
      return (await import('./xlsx.js')).writeXlsx(job);
    case 'pdf':
      return (await import('./pdf.js')).writePdf(job);
  }
}
