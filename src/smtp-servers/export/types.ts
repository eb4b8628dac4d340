import type { Writable } from 'node:stream';
import type { ServerListItem } from '../repository.js';
import type { ExportColumnSpec, ExportContext, ExportMeta } from './columns.js';

/** One export: where the rows come from, what to write of them, and where to. */
export interface ExportJob {
  /**
   * A fresh pass over every matching row in display order, a batch at a time (the PDF reads them twice: once to
   * count its pages). Leaving the loop early closes the iterator, which stops the reads.
   */
  batches: () => AsyncIterable<readonly ServerListItem[]>;
  columns: ExportColumnSpec[];
  context: ExportContext;
  meta: ExportMeta;
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
