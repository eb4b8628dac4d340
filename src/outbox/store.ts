import type { Authentication } from '../smtp-servers/validation.js';
import type { MessageAttempt, MessageDetail, MessageListQuery, MessagePage, MessageStatus, MessageSummary, OutgoingAttachment } from './types.js';

/** A message as the service hands it to the store: validated, its ids and its hash computed. */
export interface NewOutboxMessage {
  publicId: string;
  department: string;
  pinnedServerId: number | null;
  origin: { kind: 'token' | 'user'; id: number; name: string };
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  subject: string;
  text: string | null;
  html: string | null;
  attachments: OutgoingAttachment[];
  messageId: string;
  idempotencyKey: string | null;
  bodyHash: string | null;
  searchText: string;
  acceptedAt: Date;
}

/** The worker of this instance takes the first `count` messages of a group as they are stored: leased to it already. */
export interface AcceptanceLease {
  owner: string;
  until: Date;
  count: number;
}

/** A message as stored: its row's id (the worker's handle) and what the API answers. */
export interface StoredMessage {
  id: number;
  summary: MessageSummary;
}

/** A message a worker holds the lease of: what it takes to route and compose it, its bodies read with the claim. */
export interface ClaimedMessage {
  id: number;
  publicId: string;
  department: string;
  pinnedServerId: number | null;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  subject: string;
  messageId: string;
  attemptCount: number;
  roundCount: number;
  triedServerIds: number[];
  stickyServerId: number | null;
  /** The recipients still to send to (others took it already); null: every recipient of to, cc and bcc. */
  pendingRecipients: string[] | null;
  /** Recipients refused for good while others were still being tried (see Settlement). */
  refusedRecipients: RefusedRecipient[] | null;
  acceptedAt: Date;
  content: MessageContent;
}

/** A recipient a server refused for good (5xx at RCPT TO, or for the message), with its reply in one line. */
export interface RefusedRecipient {
  recipient: string;
  reply: string;
}

export interface MessageContent {
  text: string | null;
  html: string | null;
  attachments: OutgoingAttachment[];
  /** The bodies were purged (retention): nothing left to send. */
  purged: boolean;
}

export interface NewAttempt extends Omit<MessageAttempt, 'serverTitle'> {
  serverTitle: string;
}

/** What a worker writes when it lets go of a message: its new state, and the attempts it made. */
export interface Settlement {
  status: Exclude<MessageStatus, 'sending' | 'cancelled'>;
  /** The next attempt (queued, retry); null when done. */
  dueAt: Date | null;
  attemptCount: number;
  roundCount: number;
  triedServerIds: number[];
  stickyServerId: number | null;
  /** Sent: null. Retry: the recipients still temporarily refused (null: all). Failed: those refused for good (null: all). */
  pendingRecipients: string[] | null;
  /** While it is retried for some recipients, those already refused for good: it fails once the others are done. */
  refusedRecipients: RefusedRecipient[] | null;
  lastServerId: number | null;
  lastServerTitle: string | null;
  lastReply: string | null;
  sentAt: Date | null;
  attempts: NewAttempt[];
}

/** The columns of a server the sending needs, the password as its envelope. */
export interface SendingServer {
  id: number;
  title: string;
  host: string;
  port: number;
  security: 'none' | 'starttls' | 'tls';
  authentication: Authentication;
  email: string;
  senderName: string;
  username: string;
  passwordCiphertext: string | null;
  oauthTenant: string;
  oauthClientId: string;
  oauthSecretCiphertext: string | null;
  verifyCertificate: boolean;
  signature: string;
  active: boolean;
  confirmationStatus: string;
  version: number;
  rateLimitPerMinute: number | null;
}

/**
 * The outbox's rows: messages, their attachments and attempts, the servers' sending state and their rate-limit slots.
 * The rules (routing, failover, backoff, « en panne ») are the service's and the worker's.
 * insert() throws UniqueViolation when the origin already used this Idempotency-Key.
 */
export interface OutboxStore {
  insert(message: NewOutboxMessage): Promise<MessageSummary>;
  /**
   * Messages without attachments nor Idempotency-Key, several at once in one transaction (one commit): all stored or
   * none, in the order given. With a lease, its first `count` messages are stored as a claim would leave them (sending,
   * leased to its owner until its end): the worker that asked sends them without claiming them.
   */
  insertMany(messages: NewOutboxMessage[], lease: AcceptanceLease | null): Promise<StoredMessage[]>;
  findByIdempotencyKey(originKind: 'token' | 'user', originId: number, key: string): Promise<{ message: MessageSummary; bodyHash: string | null } | null>;
  find(publicId: string): Promise<MessageDetail | null>;
  page(query: MessageListQuery, perPage: number): Promise<MessagePage>;
  /** Every message the query matches (its page and perPage aside), in the log's order, a batch at a time (the exports). */
  batches(query: MessageListQuery, batchSize: number): AsyncGenerator<MessageSummary[]>;
  /** Messages failed for good whose last change was at or after `since` (the pages' banner). */
  countFailedSince(since: Date): Promise<number>;
  /** failed → queued, due now, a new round, for its pending recipients only. false when it was not failed (or its bodies are purged). */
  requeue(publicId: string, now: Date): Promise<boolean>;
  /** queued or retry → cancelled. false when it was no longer waiting. */
  cancel(publicId: string, now: Date): Promise<boolean>;
  /**
   * Takes up to `limit` messages due by `now` (waiting, or sending under a lease that has expired): each is leased
   * to `owner` until `leaseUntil`, atomically, so no two workers hold one at a time.
   */
  claim(owner: string, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedMessage[]>;
  contentOf(id: number): Promise<MessageContent>;
  /** Writes the worker's outcome, only while `owner` still holds the lease; false when it was taken over. */
  settle(id: number, owner: string, settlement: Settlement, now: Date): Promise<boolean>;
  /** settle() for several messages at once, atomically, inside stores.transaction or not; for each, false when taken over. */
  settleMany(owner: string, settlements: { id: number; settlement: Settlement }[], now: Date): Promise<boolean[]>;
  /** Gives the leases of `owner` back (shutdown): those messages are due again now. */
  handBack(owner: string, now: Date): Promise<number>;
  sendingServer(serverId: number): Promise<SendingServer | null>;
  /** The server took a message: its failure count and « en panne » cleared, its last success noted. */
  serverSucceeded(serverId: number, now: Date): Promise<void>;
  /** One more failure in a row; at `threshold` it is « en panne » until `downUntil`. */
  serverFailed(serverId: number, now: Date, error: string, threshold: number, downUntil: Date): Promise<void>;
  /** Reserves one of the server's `limit` messages for the minute starting at `windowStart`; false when none is left. */
  reserveSlot(serverId: number, windowStart: Date, limit: number): Promise<boolean>;
  /** Bodies and attachments of the messages accepted before `before` and done are removed; the log line stays. */
  purgeBodies(before: Date, now: Date): Promise<number>;
  /** Slots of minutes gone by. */
  dropSlotsBefore(before: Date): Promise<void>;
}
