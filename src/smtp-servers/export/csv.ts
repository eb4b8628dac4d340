import { cellText, neutralizeFormula, type CellValue } from './columns.js';
import { breathe, writeChunk } from './flow.js';
import type { ExportJob, ExportResult, SheetMeta } from './types.js';

export const csvSeparators = [';', ',', '\t'] as const;
export type CsvSeparator = (typeof csvSeparators)[number];

/** `?sep=` accepts the character itself or its name; anything else means "the language's default". */
export function csvSeparatorFrom(raw: unknown, locale: 'fr' | 'en'): CsvSeparator {
  const value = Array.isArray(raw) ? raw[0] : raw;
  const byName: Record<string, CsvSeparator> = {
    ';': ';',
    semicolon: ';',
    ',': ',',
    comma: ',',
    '\t': '\t',
    tab: '\t',
  };
  const chosen = typeof value === 'string' && Object.hasOwn(byName, value.toLowerCase()) ? byName[value.toLowerCase()] : undefined;
  // French Excel splits on ";" (the comma is the decimal separator there); English Excel on ",".
  return chosen ?? (locale === 'fr' ? ';' : ',');
}

function csvCell(value: CellValue): string {
  return typeof value === 'number' ? String(value) : neutralizeFormula(cellText(value));
}

const mustQuote = { ';': /[";\r\n]/, ',': /[",\r\n]/, '\t': /["\t\r\n]/ } as const;

/**
 * One RFC 4180 record: a field holding the separator, a quote or a line break (CR or LF alone too) is put in quotes,
 * its quotes doubled; CRLF ends the record. Written by hand rather than with csv-stringify: at 100,000 rows
 * csv-stringify alone took longer than sqlite3 takes to dump the table, and with CRLF records it leaves a bare LF
 * unquoted, where Excel would split the row. test/smtp-servers-export.test.ts checks both against it.
 */
export function csvRecord(fields: readonly string[], separator: CsvSeparator): string {
  const quote = mustQuote[separator];
  let line = '';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (i > 0) line += separator;
    line += quote.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
  }
  return `${line}\r\n`;
}

/**
 * RFC 4180 CSV, UTF-8 with a byte-order mark so Excel reads accents right; text cells that a spreadsheet would
 * take for a formula are neutralised. Written a batch of rows at a time.
 */
export async function writeCsv<Row, Key extends string, Meta extends SheetMeta>(job: ExportJob<Row, Key, Meta>, separator: CsvSeparator): Promise<ExportResult> {
  const { columns, out, signal } = job;
  await writeChunk(out, `\uFEFF${csvRecord(columns.map((c) => neutralizeFormula(c.label)), separator)}`, signal);

  let count = 0;
  for await (const batch of job.batches()) {
    let chunk = '';
    for (const row of batch) chunk += csvRecord(columns.map((column) => csvCell(column.value(row))), separator);
    await writeChunk(out, chunk, signal);
    job.progress.rows = count += batch.length;
    await breathe(out, signal);
  }
  out.end();
  return { rows: count };
}
