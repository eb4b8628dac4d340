import nodemailer, { type Transporter } from 'nodemailer';
import { Readable } from 'node:stream';
import { resolveDestination } from './destination.js';
import type { NodemailerAuth } from './credentials.js';
import { transportOptionsFor, type SmtpEndpoint, type SmtpSettings } from './endpoint.js';

/** A server as the pool needs it: where it is, how to speak to it, and its row version (an edit makes a new pool). */
export interface PooledEndpoint extends SmtpEndpoint {
  id: number;
  version: number;
}

/** A message already composed (RFC 5322 bytes) and its SMTP envelope. */
export interface RawMessage {
  envelope: { from: string; to: string[] };
  messageId: string;
  raw: Buffer;
}

/** A recipient the server refused while it took the message for others: its reply, as nodemailer's rejectedErrors tell it. */
export interface RecipientRefusal {
  recipient: string;
  responseCode: number | null;
  response: string;
}

export interface Delivery {
  response: string;
  accepted: string[];
  /** Refused one by one (RCPT TO, or an LMTP server's reply after the data): the others have it. */
  refused: RecipientRefusal[];
}

type NodemailerRefusal = { recipient?: string; responseCode?: number; response?: string; message?: string };

/** nodemailer's rejectedErrors as plain data (they cross the sending thread). */
export function refusalsOf(rejectedErrors: NodemailerRefusal[] | undefined): RecipientRefusal[] {
  return (rejectedErrors ?? []).map((e) => ({
    recipient: e.recipient ?? '',
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : null,
    response: e.response ?? e.message ?? '',
  }));
}

/** A failed send, with whether the message's bytes had started to go (the server had answered DATA). */
export class SendFailure extends Error {
  constructor(
    // refused: each recipient's reply when every one was refused (from the sending thread: see ErrorFacts).
    readonly cause: NodeJS.ErrnoException & { responseCode?: number; response?: string; command?: string; refused?: RecipientRefusal[] },
    readonly afterData: boolean,
  ) {
    super(cause.message);
  }
}

/** nodemailer's pool behind a Transporter: the part that takes a message as a stream of our own. */
interface PoolTransport {
  send(mail: unknown, callback: (err: Error | null, info?: { response: string; accepted?: string[]; rejectedErrors?: NodemailerRefusal[] }) => void): void;
  close(): void;
}

interface Entry {
  version: number;
  pool: Promise<{ transporter: Transporter; address: string }>;
  lastUsed: number;
}

export interface TransportPoolOptions {
  connections: number;
  sendTimeoutMs: number;
  /** A server's pool unused this long is closed (a deactivated server, one edited on another instance). */
  idleMs?: number;
}

/**
 * One pooled nodemailer transport per server, opened on first use after the destination check (the address checked is
 * the one connected to), replaced when the server's row version changes, closed when told (edit, deactivation,
 * deletion: forget), when idle, and at shutdown (closeAll).
 */
export function createTransportPool(settings: SmtpSettings, options: TransportPoolOptions) {
  const entries = new Map<number, Entry>();
  const idleMs = options.idleMs ?? 60_000;

  const closeEntry = (entry: Entry) => {
    entry.pool.then(({ transporter }) => transporter.close()).catch(() => {});
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, entry] of entries) {
      if (now - entry.lastUsed > idleMs) {
        entries.delete(id);
        closeEntry(entry);
      }
    }
  }, Math.min(idleMs, 30_000));
  sweep.unref();

  function open(server: PooledEndpoint, auth: () => Promise<NodemailerAuth | undefined>): Entry {
    // The auth is asked once per pool: an OAuth2 one renews its token itself, through its provisioning callback.
    const pool = Promise.all([resolveDestination(server.host, settings.destinations), auth()]).then(([{ address }, credentials]) => ({
      address,
      transporter: nodemailer.createTransport({
        ...transportOptionsFor(server, credentials, settings, address),
        socketTimeout: options.sendTimeoutMs,
        pool: true,
        maxConnections: options.connections,
        maxMessages: Infinity,
      }),
    }));
    return { version: server.version, pool, lastUsed: Date.now() };
  }

  return {
    /**
     * Sends through the server's pool. The message goes as a stream read only once the server has said yes to DATA,
     * so a failure tells whether any of it had gone (a time-out then may mean it arrived).
     */
    async send(server: PooledEndpoint, auth: () => Promise<NodemailerAuth | undefined>, message: RawMessage): Promise<Delivery> {
      let entry = entries.get(server.id);
      if (entry && entry.version !== server.version) {
        entries.delete(server.id);
        closeEntry(entry);
        entry = undefined;
      }
      if (!entry) {
        entry = open(server, auth);
        entries.set(server.id, entry);
      }
      entry.lastUsed = Date.now();
      const current = entry;
      let transporter: Transporter;
      try {
        ({ transporter } = await current.pool);
      } catch (err) {
        // A name that did not resolve, an address refused, no OAuth2 token: the next message looks again.
        if (entries.get(server.id) === current) entries.delete(server.id);
        throw new SendFailure(err as NodeJS.ErrnoException, false);
      }
      let stream: Readable | null = null;
      const mail = {
        data: {},
        message: {
          getEnvelope: () => ({ from: message.envelope.from, to: message.envelope.to }),
          messageId: () => message.messageId,
          getHeader: (name: string) => (name.toLowerCase() === 'message-id' ? message.messageId : undefined),
          createReadStream: () => (stream = Readable.from([message.raw], { objectMode: false })),
        },
      };
      const pool = (transporter as unknown as { transporter: PoolTransport }).transporter;
      return new Promise<Delivery>((resolve, reject) => {
        pool.send(mail, (err, info) => {
          if (err) return reject(new SendFailure(err as NodeJS.ErrnoException, stream?.readableDidRead === true));
          resolve({ response: info?.response ?? '', accepted: info?.accepted ?? [], refused: refusalsOf(info?.rejectedErrors) });
        });
      });
    },

    /** The server was edited, deactivated or deleted: its connections close now; the next message opens new ones. */
    forget(serverId: number) {
      const entry = entries.get(serverId);
      if (!entry) return;
      entries.delete(serverId);
      closeEntry(entry);
    },

    closeAll() {
      clearInterval(sweep);
      for (const entry of entries.values()) closeEntry(entry);
      entries.clear();
    },
  };
}

