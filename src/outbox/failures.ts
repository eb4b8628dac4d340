import { boundedReply, messageChars, printable } from '../smtp/reply.js';
import type { SendFailure } from '../smtp/transports.js';

/**
 * What a failed attempt means for the message, by RFC 5321 class:
 * - failover: nothing was delivered and another server may do better (no connection, TLS, AUTH, a time-out before
 *   DATA, a 4xx, a refused sender): the next usable server now;
 * - failed: the server refused a recipient or the message itself for good (5xx): no other server is tried;
 * - deferred: the connection went silent or broke after the message was sent: it may have arrived, so it is tried
 *   again later on the same server with the same Message-ID, never on another one at once.
 */
export type FailureVerdict = 'failover' | 'failed' | 'deferred';

export function verdictOf(failure: SendFailure): FailureVerdict {
  const { code, responseCode, command } = failure.cause;
  const permanent = typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600;
  if (permanent && (code === 'EMESSAGE' || (code === 'EENVELOPE' && (command === 'RCPT TO' || command === 'DATA')))) return 'failed';
  if (failure.afterData && !responseCode) return 'deferred';
  return 'failover';
}

/** A failure of the connection itself (rather than a reply about this message): the pool is replaced. */
export function brokeTheConnection(failure: SendFailure): boolean {
  return !failure.cause.responseCode || failure.cause.responseCode === 421;
}

/** The server's reply, or the connection's error, in one short line fit for the log. */
export function replyOf(failure: SendFailure): string {
  const { response, code, message } = failure.cause;
  if (response) {
    const bounded = boundedReply(response, 3);
    return 'reply' in bounded ? bounded.reply.replace(/\n/g, ' ') : bounded.notSmtp;
  }
  return printable(`${code ?? 'ERROR'}: ${message}`, messageChars);
}

/** A delivery's reply (250 …), bounded the same way. */
export function acceptedReplyOf(response: string): string | null {
  if (!response) return null;
  const bounded = boundedReply(response, 3);
  return 'reply' in bounded ? bounded.reply.replace(/\n/g, ' ') : bounded.notSmtp;
}
