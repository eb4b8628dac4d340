// The contract between the sending outbox (src/outbox/) and those who hand it messages (the API, the test-send page).

/** queued: waiting for its first or next attempt; sending: claimed by a worker; retry: every server tried, a new attempt planned. */
export type MessageStatus = 'queued' | 'sending' | 'retry' | 'sent' | 'failed' | 'cancelled';

export interface OutgoingAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A message as the ERP hands it over, already validated (addresses parsed, sizes checked). */
export interface OutgoingMessage {
  /** The department's code (achat, vente, production, or one added later). */
  department: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  subject: string;
  text: string | null;
  html: string | null;
  attachments: OutgoingAttachment[];
}

export interface AcceptOptions {
  /** Who handed it over, for the log: an API token's id and name, or a signed-in user. */
  origin: { kind: 'token'; tokenId: number; name: string } | { kind: 'user'; userId: number; name: string };
  /** The same key from the same token returns the first answer instead of queuing the message twice. */
  idempotencyKey?: string;
  /** Only this server (the test-send page's « un serveur »), not the department's routing. */
  serverId?: number;
}

export interface MessageAttempt {
  at: Date;
  serverId: number | null;
  serverTitle: string;
  outcome: 'sent' | 'failover' | 'deferred' | 'failed';
  /** The SMTP reply or the connection error, in one line. */
  reply: string | null;
  durationMs: number;
}

export interface MessageSummary {
  /** Opaque and public (the API's id). */
  id: string;
  status: MessageStatus;
  department: string;
  to: string[];
  subject: string;
  /** The Message-ID header, fixed at acceptance and kept across attempts and servers. */
  messageId: string;
  acceptedAt: Date;
  nextAttemptAt: Date | null;
  attemptCount: number;
  lastReply: string | null;
  /** The server that delivered it (status sent) or was last tried. */
  serverId: number | null;
  serverTitle: string | null;
}

export interface MessageDetail extends MessageSummary {
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  /** The recipients it is still (retry) or was not (failed) sent to, the others having received it; null: all of them. */
  pendingRecipients: string[] | null;
  attempts: MessageAttempt[];
}

export interface MessageListQuery {
  status?: MessageStatus;
  /** Only the messages retried at least once (a round ended in a retry since they were accepted or queued again). */
  retried?: boolean;
  department?: string;
  /** Only these departments' messages (an API token limited to some departments; empty: none); ignored when `department` is given. */
  departments?: readonly string[];
  serverId?: number;
  since?: Date;
  /** Accepted before this moment. */
  until?: Date;
  /** Words searched in the recipients and the subject. */
  q?: string;
  page?: number;
  perPage?: number;
}

export interface MessagePage {
  rows: MessageSummary[];
  total: number;
  page: number;
  pages: number;
  perPage: number;
}

export type AcceptOutcome =
  | { kind: 'accepted'; message: MessageSummary }
  /** The Idempotency-Key was seen before with the same body: the first answer. */
  | { kind: 'replayed'; message: MessageSummary }
  /** The Idempotency-Key was seen before with another body. */
  | { kind: 'idempotencyConflict' }
  | { kind: 'unknownDepartment'; code: string }
  | { kind: 'inactiveDepartment'; code: string };

/** What the outbox offers; decorated on the app as `app.outbox`. accept() resolves only once the message is committed. */
export interface Outbox {
  accept(message: OutgoingMessage, options: AcceptOptions): Promise<AcceptOutcome>;
  find(id: string): Promise<MessageDetail | null>;
  list(query: MessageListQuery): Promise<MessagePage>;
  /** A failed message queued again (admins); false when it was not failed. */
  retry(id: string, actor: { userId: number; name: string; ip?: string | null }): Promise<boolean>;
  /** A queued or retry message cancelled (admins); false when it was no longer waiting. */
  cancel(id: string, actor: { userId: number; name: string; ip?: string | null }): Promise<boolean>;
}
