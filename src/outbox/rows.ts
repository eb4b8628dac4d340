import type { MessageAttempt, MessageDetail, MessageStatus, MessageSummary, OutgoingAttachment } from './types.js';
import type { ClaimedMessage, NewOutboxMessage, RefusedRecipient } from './store.js';

/** The listing's columns of a message, as both stores read them (dates already Dates). */
export interface SummaryRow {
  publicId: string;
  status: MessageStatus;
  departmentCode: string;
  toAddresses: string;
  subject: string;
  messageId: string;
  acceptedAt: Date;
  dueAt: Date | null;
  attemptCount: number;
  lastReply: string | null;
  lastServerId: number | null;
  lastServerTitle: string | null;
}

export interface DetailRow extends SummaryRow {
  ccAddresses: string;
  bccAddresses: string;
  replyTo: string | null;
  pendingRecipients: string | null;
}

export interface ClaimedRow {
  id: number;
  publicId: string;
  departmentCode: string;
  pinnedServerId: number | null;
  toAddresses: string;
  ccAddresses: string;
  bccAddresses: string;
  replyTo: string | null;
  subject: string;
  messageId: string;
  attemptCount: number;
  roundCount: number;
  triedServerIds: string;
  stickyServerId: number | null;
  pendingRecipients: string | null;
  refusedRecipients: string | null;
  acceptedAt: Date;
  text: string | null;
  html: string | null;
  purgedAt: Date | number | null;
}

const addresses = (json: string): string[] => JSON.parse(json) as string[];

export function summaryOf(row: SummaryRow): MessageSummary {
  return {
    id: row.publicId,
    status: row.status,
    department: row.departmentCode,
    to: addresses(row.toAddresses),
    subject: row.subject,
    messageId: row.messageId,
    acceptedAt: row.acceptedAt,
    // While a worker holds it, due_at is its lease's end, not a planned attempt.
    nextAttemptAt: row.status === 'queued' || row.status === 'retry' ? row.dueAt : null,
    attemptCount: row.attemptCount,
    lastReply: row.lastReply,
    serverId: row.lastServerId,
    serverTitle: row.lastServerTitle,
  };
}

export function detailOf(row: DetailRow, attempts: MessageAttempt[]): MessageDetail {
  return {
    ...summaryOf(row),
    cc: addresses(row.ccAddresses),
    bcc: addresses(row.bccAddresses),
    replyTo: row.replyTo,
    pendingRecipients: row.pendingRecipients === null ? null : addresses(row.pendingRecipients),
    attempts,
  };
}

/** The claimed row, with its attachments (in order): the worker composes it from this alone. */
export function claimedOf(row: ClaimedRow, attachments: OutgoingAttachment[]): ClaimedMessage {
  return {
    id: row.id,
    publicId: row.publicId,
    department: row.departmentCode,
    pinnedServerId: row.pinnedServerId,
    to: addresses(row.toAddresses),
    cc: addresses(row.ccAddresses),
    bcc: addresses(row.bccAddresses),
    replyTo: row.replyTo,
    subject: row.subject,
    messageId: row.messageId,
    attemptCount: row.attemptCount,
    roundCount: row.roundCount,
    triedServerIds: JSON.parse(row.triedServerIds) as number[],
    stickyServerId: row.stickyServerId,
    pendingRecipients: row.pendingRecipients === null ? null : addresses(row.pendingRecipients),
    refusedRecipients: row.refusedRecipients === null ? null : (JSON.parse(row.refusedRecipients) as RefusedRecipient[]),
    acceptedAt: row.acceptedAt,
    content: { text: row.text, html: row.html, attachments, purged: row.purgedAt !== null },
  };
}

export const waitingStatuses = ['queued', 'retry'] as const;
export const doneStatuses = ['sent', 'failed', 'cancelled'] as const;

/** The slot windows: one per minute. */
export function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

/** What a message just stored reads as, from what was written: no need to read it back. */
export function acceptedSummaryOf(message: NewOutboxMessage, leased = false): MessageSummary {
  return {
    id: message.publicId,
    status: leased ? 'sending' : 'queued',
    department: message.department,
    to: message.to,
    subject: message.subject,
    messageId: message.messageId,
    acceptedAt: message.acceptedAt,
    nextAttemptAt: leased ? null : message.acceptedAt,
    attemptCount: 0,
    lastReply: null,
    serverId: null,
    serverTitle: null,
  };
}

/** A message stored leased to this instance's worker (see AcceptanceLease): what a claim of its row would have read. */
export function claimedAtAcceptance(message: NewOutboxMessage, id: number): ClaimedMessage {
  return {
    id,
    publicId: message.publicId,
    department: message.department,
    pinnedServerId: message.pinnedServerId,
    to: message.to,
    cc: message.cc,
    bcc: message.bcc,
    replyTo: message.replyTo,
    subject: message.subject,
    messageId: message.messageId,
    attemptCount: 0,
    roundCount: 0,
    triedServerIds: [],
    stickyServerId: null,
    pendingRecipients: null,
    refusedRecipients: null,
    acceptedAt: message.acceptedAt,
    content: { text: message.text, html: message.html, attachments: message.attachments, purged: false },
  };
}
