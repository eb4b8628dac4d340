import { refusalsOf, type Delivery, type PooledEndpoint, type RecipientRefusal } from '../smtp/transports.js';
import type { SmtpSettings } from '../smtp/endpoint.js';
import type { StoredLogo } from '../signature/compose.js';
import type { ClaimedMessage, MessageContent, SendingServer } from './store.js';

/**
 * What the sending thread composes a message from: the stored message, its server's sender and signature, the logo.
 * Its envelope goes to the pending recipients when there are (the headers stay those of the message), else to all.
 */
export interface Composition {
  message: Pick<ClaimedMessage, 'to' | 'cc' | 'bcc' | 'replyTo' | 'subject' | 'messageId' | 'pendingRecipients'>;
  content: Pick<MessageContent, 'text' | 'html' | 'attachments'>;
  sender: Pick<SendingServer, 'senderName' | 'email' | 'signature'>;
  logo: StoredLogo | null;
  at: Date;
}

/** An error as it crosses the thread: the fields the failure's verdict and reply are read from. */
export interface ErrorFacts {
  message: string;
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  /** Every recipient refused (nodemailer's "all recipients were rejected"): each one's reply. */
  refused?: RecipientRefusal[];
}

/** An auth without its callback (a function does not cross): the thread asks for the next token instead. */
export type AuthFacts = { user: string; pass: string } | { type: 'OAuth2'; user: string; accessToken: string; expires: number };

/** The SMTP settings as they cross: the destination policy by its configured values, made again in the thread. */
export interface ThreadSettings {
  smtp: Omit<SmtpSettings, 'destinations'> & { destinations: { allowPrivate: boolean; allowedNetworks: string[] } };
  connections: number;
  sendTimeoutMs: number;
}

export type ToThread =
  | { kind: 'send'; id: number; server: PooledEndpoint; composition: Composition }
  | { kind: 'forget'; serverId: number }
  | { kind: 'auth'; id: number; auth: AuthFacts | null; error?: ErrorFacts }
  | { kind: 'token'; id: number; accessToken?: string; expires?: number; error?: ErrorFacts }
  | { kind: 'close' };

export type FromThread =
  | { kind: 'sent'; id: number; delivery: Delivery }
  | { kind: 'refused'; id: number; cause: ErrorFacts; afterData: boolean }
  | { kind: 'uncomposed'; id: number; error: ErrorFacts }
  | { kind: 'auth'; id: number; serverId: number; version: number }
  | { kind: 'token'; id: number; serverId: number; version: number; renew: boolean };

export function factsOf(err: unknown): ErrorFacts {
  const e = (err ?? {}) as Partial<ErrorFacts> & { message?: unknown; rejectedErrors?: Parameters<typeof refusalsOf>[0] };
  return {
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.responseCode === 'number' ? { responseCode: e.responseCode } : {}),
    ...(typeof e.response === 'string' ? { response: e.response } : {}),
    ...(typeof e.command === 'string' ? { command: e.command } : {}),
    ...(Array.isArray(e.rejectedErrors) && e.rejectedErrors.length ? { refused: refusalsOf(e.rejectedErrors) } : {}),
    ...(Array.isArray(e.refused) ? { refused: e.refused } : {}),
  };
}

/** The error again on this side of the thread, with the same fields. */
export function errorOf(facts: ErrorFacts): Error & Omit<ErrorFacts, 'message'> {
  return Object.assign(new Error(facts.message), facts);
}
