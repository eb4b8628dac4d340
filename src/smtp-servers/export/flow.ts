import type { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** The client went away (or the output was destroyed): the export stops without finishing the file. */
export class ExportAborted extends Error {
  constructor() {
    super('export aborted: the client disconnected');
    this.name = 'ExportAborted';
  }
}

export function isExportAborted(err: unknown): err is ExportAborted {
  return err instanceof ExportAborted;
}

function stopped(out: Writable, signal: AbortSignal): boolean {
  return signal.aborted || out.destroyed || out.writableEnded;
}

/** Waits until the output wants more; rejects with ExportAborted if it closes or the signal fires meanwhile. */
export function drained(out: Writable, signal: AbortSignal): Promise<void> {
  if (stopped(out, signal)) return Promise.reject(new ExportAborted());
  if (!out.writableNeedDrain) return Promise.resolve();
  return nextDrain(out, signal);
}

/**
 * Waits for the stream's next 'drain', for a stream that does not say whether it wants one (the readable-stream
 * copies inside exceljs have no writableNeedDrain); rejects with ExportAborted as drained() does.
 */
export function nextDrain(out: Writable, signal: AbortSignal): Promise<void> {
  if (stopped(out, signal)) return Promise.reject(new ExportAborted());
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onClose);
      signal.removeEventListener('abort', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => finish();
    const onClose = () => finish(new ExportAborted());
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onClose);
    signal.addEventListener('abort', onClose);
  });
}

/** Writes a chunk and, when the output's buffer is full, waits for it to drain before going on. */
export async function writeChunk(out: Writable, chunk: string | Buffer, signal: AbortSignal): Promise<void> {
  if (stopped(out, signal)) throw new ExportAborted();
  if (!out.write(chunk)) await drained(out, signal);
}

/**
 * Between two batches of rows: gives the event loop a turn (SQLite reads are synchronous: without it a long export
 * would hold the whole server and never hear the client hang up), stops if the client went away, and waits while
 * the output is full.
 */
export async function breathe(out: Writable, signal: AbortSignal): Promise<void> {
  await nextTurn();
  if (stopped(out, signal)) throw new ExportAborted();
  if (out.writableNeedDrain) await drained(out, signal);
}

/** Rejects with ExportAborted when the signal fires; for racing against a step that would wait forever on a closed output. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  const aborted = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(new ExportAborted());
    else signal.addEventListener('abort', () => reject(new ExportAborted()), { once: true });
  });
  aborted.catch(() => {});
  return aborted;
}
