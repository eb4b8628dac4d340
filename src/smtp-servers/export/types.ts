import type { Writable } from 'node:stream';
import type { ServerListItem } from '../repository.js';
import type { ExportColumn, ExportColumnSpec, ExportContext, ExportMeta } from './columns.js';

/** What the CSV and Excel writers read of an export's description. */
export type SheetMeta = Pick<ExportMeta, 'sheetName' | 'exportedAt'>;

/** One export: where the rows come from, what to write of them, and where to (the server list's unless told otherwise). */
export interface ExportJob<Row = ServerListItem, Key extends string = ExportColumn, Meta extends SheetMeta = ExportMeta> {
  /**
   * A fresh pass over every matching row in display order, a batch at a time (the PDF reads them twice: once to
   * count its pages). Leaving the loop early closes the iterator, which stops the reads.
   */
  batches: () => AsyncIterable<readonly Row[]>;
  columns: ExportColumnSpec<Row, Key>[];
  context: ExportContext;
  meta: Meta;
  /** The writer ends it when the file is complete; on failure the caller destroys it. */
  out: Writable;
  /** Fires when the client disconnects: the writer stops reading rows. */
  signal: AbortSignal;
  /** Rows written so far, kept up to date by the writer (an interrupted export is recorded with it). */
  progress: { rows: number };
}

export interface ExportResult {
  rows: number;
}
