import { boundedReply, messageChars, printable } from '../smtp/reply.js';
import { ownReplies } from './own-replies.js';
import type { RecipientRefusal, SendFailure } from '../smtp/transports.js';
import type { RefusedRecipient } from './store.js';

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

/** A recipient refused one by one is refused for good on a 5xx; anything else (4xx, no code) may do better elsewhere or later. */
export function refusedForGood(refusal: RecipientRefusal): boolean {
  return refusal.responseCode !== null && refusal.responseCode >= 500 && refusal.responseCode < 600;
}

/** A recipient's refusal as it is kept: the address and the first line of the reply, short. */
export function refusedRecipientOf(refusal: RecipientRefusal): RefusedRecipient {
  const bounded = refusal.response ? boundedReply(refusal.response, 1) : { notSmtp: String(refusal.responseCode ?? '') };
  return { recipient: refusal.recipient, reply: printable('reply' in bounded ? bounded.reply : bounded.notSmtp, refusalChars) };
}

// The log and the API show the reply on one line: a few refusals, then how many more.
const refusalChars = 100;
const refusalsShown = 3;

/** "a@x (550 No such user), b@y (451 Later) (+2)". */
export function refusalsText(refused: RefusedRecipient[]): string {
  const shown = refused.slice(0, refusalsShown).map((r) => `${printable(r.recipient, refusalChars)} (${r.reply})`).join(', ');
  return refused.length > refusalsShown ? `${shown} (+${refused.length - refusalsShown})` : shown;
}

/** A delivery's reply, with the recipients it refused one by one: `250 Queued; refused: reject@exemple.fr (550 No such user here)`. */
export function deliveryReplyOf(response: string, refused: RecipientRefusal[]): string | null {
  const accepted = acceptedReplyOf(response);
  if (refused.length === 0) return accepted;
  return `${accepted ?? '250'}; ${ownReplies.refused} ${refusalsText(refused.map(refusedRecipientOf))}`;
}

/** The last reply of a message failed for some recipients only: who was refused, and that the others have it when known. */
export function partlyFailedReplyOf(refused: RefusedRecipient[], othersHaveIt: boolean): string {
  return `${ownReplies.refused} ${refusalsText(refused)}${othersHaveIt ? `; ${ownReplies.othersHaveIt}` : ''}`;
}
