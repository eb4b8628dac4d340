import type { Translate } from '../../i18n/index.js';
import { isoDay } from './columns.js';
import type { CsvSeparator } from './csv.js';
import type { ExportJob, ExportResult } from './types.js';

export { csvSeparatorFrom, type CsvSeparator } from './csv.js';
export { exportColumns, type ExportContext, type ExportMeta } from './columns.js';
export { displayTimeZone } from '../../i18n/index.js';
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

type Writer = (job: ExportJob, options: ExportOptions) => Promise<ExportResult>;

/** Each writer is loaded on first use: exceljs and pdfkit weigh about 30 MB each in memory and take a moment to load. */
export async function loadWriter(format: ExportFormat): Promise<Writer> {
  switch (format) {
    case 'csv': {
      const { writeCsv } = await import('./csv.js');
      return (job, options) => writeCsv(job, options.separator);
    }
    case 'xlsx':
      return (await import('./xlsx.js')).writeXlsx;
    case 'pdf':
      return (await import('./pdf.js')).writePdf;
  }
}

/** Writes the whole file to job.out and ends it; rejects with ExportAborted when the client goes away. */
export async function runExport(format: ExportFormat, job: ExportJob, options: ExportOptions): Promise<ExportResult> {
  return (await loadWriter(format))(job, options);
}
