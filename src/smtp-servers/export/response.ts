import type { FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough, type Writable } from 'node:stream';
import { isExportAborted } from './flow.js';

/** Room for a few batches, so the file is made while the network takes the previous ones. */
export const outputBuffer = 256 * 1024;

/** The stream an export writes to, and the signal that stops it when the client goes away before the end. */
export function exportStream(reply: FastifyReply): { out: PassThrough; signal: AbortSignal } {
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
  return { out, signal: controller.signal };
}

/**
 * After the writer: the rows written are recorded (also when the client left half-way), a failure is logged and ends
 * the stream with an error. Never rejects.
 */
export function settleExport(
  request: FastifyRequest,
  written: Promise<{ rows: number }>,
  job: { out: Writable; progress: { rows: number } },
  record: (rows: number, aborted: boolean) => Promise<unknown>,
  what: string,
): Promise<void> {
  return written
    .then(
      (result) => record(result.rows, false),
      async (err: unknown) => {
        if (isExportAborted(err)) {
          request.log.info({ rows: job.progress.rows }, `${what} interrupted by the client`);
          await record(job.progress.rows, true);
          job.out.destroy();
        } else {
          request.log.error({ err }, `${what} failed`);
          job.out.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      },
    )
    .then(
      () => undefined,
      (err: unknown) => request.log.error({ err }, `recording the ${what} failed`),
    );
}

/** The audit line of an export, in French like the rest of the trail: format, rows, search and filters. */
export function exportAuditSummary(format: string, rows: number, q: string, filters: string[], whole: string, aborted: boolean): string {
  const lines = `${rows.toLocaleString('fr-FR')} ${rows > 1 ? 'lignes' : 'ligne'}`;
  const scope = [q ? `recherche « ${q} »` : '', filters.length ? `filtres ${filters.join(' ')}` : ''].filter(Boolean).join(', ');
  return `${format.toUpperCase()}, ${lines}, ${scope || whole}${aborted ? ' — interrompu (client déconnecté)' : ''}`;
}
