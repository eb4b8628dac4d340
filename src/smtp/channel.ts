import type net from 'node:net';
import type tls from 'node:tls';
import { notSmtpSampleChars, printable, smtpLine } from '../smtp/reply.js';
import type { TokenFailureFacts } from './oauth-tokens.js';

/** One SMTP reply, all its lines joined. */
export interface SmtpReply {
  code: number;
  lines: string[];
  text: string;
}

export type TimeoutPhase = 'connect' | 'tls' | 'greeting' | 'command';

/** What went wrong, in the same shape as nodemailer's errors, so one diagnosis reads both. */
export interface FailureFacts {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
  timeoutPhase?: TimeoutPhase;
  /** A reply that is not SMTP: at most its first printable characters, never the rest of what it said. */
  notSmtp?: string;
  /** The address was refused by the destination policy (loopback, link-local, metadata, unspecified). */
  refused?: { kind: string; address: string };
  /** The OAuth2 token endpoint refused, or could not be reached: what it said. */
  token?: TokenFailureFacts;
}

export class ProbeFailure extends Error {
  constructor(readonly facts: FailureFacts) {
    super(facts.message ?? facts.response ?? facts.code ?? 'SMTP failure');
  }
}

const maxReplyBytes = 64 * 1024;
const maxReplyLines = 100;
const maxLineChars = 512;

/**
 * Reads SMTP replies off a socket (plain or TLS) and writes commands. The socket can be swapped for its TLS
 * upgrade after STARTTLS. Every wait has a deadline; a failure of the socket fails the pending wait.
 */
export class SmtpChannel {
  private socket: net.Socket | tls.TLSSocket | null = null;
  private buffer = '';
  private pendingLines: string[] = [];
  private replies: SmtpReply[] = [];
  private failure: ProbeFailure | null = null;
  private waiter: { resolve: (reply: SmtpReply) => void; reject: (err: ProbeFailure) => void; timer: NodeJS.Timeout } | null = null;

  private readonly onData = (chunk: Buffer) => {
    if (this.failure) return;
    this.buffer += chunk.toString('utf8');
    if (this.buffer.length > maxReplyBytes) return this.fail({ code: 'EPROTOCOL', message: 'Server reply too long' });
    let index: number;
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index).replace(/\r$/, '');
      this.buffer = this.buffer.slice(index + 1);
      const match = smtpLine.exec(line);
      if (!match) return this.notSmtp(line);
      if (this.pendingLines.length >= maxReplyLines) return this.fail({ code: 'EPROTOCOL', message: 'Server reply too long' });
      this.pendingLines.push(`${match[1]}${match[2]}${printable(match[3]!, maxLineChars)}`);
      if (match[2] !== '-') {
        const reply = { code: Number(match[1]), lines: this.pendingLines, text: this.pendingLines.join('\n') };
        this.pendingLines = [];
        this.deliver(reply);
      }
    }
    // Binary or chatty services may never end a line: four characters are enough to tell.
    if (this.buffer.length >= 4 && !/^\d{3}[ \-\r]/.test(this.buffer)) this.notSmtp(this.buffer.split('\n')[0]!);
  };

  /** Another service (SSH, HTTP, a database…) answered: its bytes are not echoed, only their first printable characters. */
  private notSmtp(line: string) {
    this.fail({ code: 'ENOTSMTP', message: 'The service does not speak SMTP', notSmtp: printable(line, notSmtpSampleChars) });
  }

  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.fail({ code: err.code ?? 'ESOCKET', message: err.message });
  };

  private readonly onClose = () => {
    this.fail({ code: 'ECONNRESET', message: 'Connection closed by the server' });
  };

  constructor(socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  attach(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** Hands the socket over (to a TLS upgrade): this channel stops reading it. */
  detach(): net.Socket | tls.TLSSocket {
    const socket = this.socket!;
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    this.socket = null;
    return socket;
  }

  private deliver(reply: SmtpReply) {
    if (this.waiter) {
      const { resolve, timer } = this.waiter;
      clearTimeout(timer);
      this.waiter = null;
      resolve(reply);
    } else {
      this.replies.push(reply);
    }
  }

  private fail(facts: FailureFacts) {
    if (this.failure) return;
    this.failure = new ProbeFailure(facts);
    if (this.waiter) {
      const { reject, timer } = this.waiter;
      clearTimeout(timer);
      this.waiter = null;
      reject(this.failure);
    }
  }

  read(timeoutMs: number, phase: TimeoutPhase, command?: string): Promise<SmtpReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.withCommand(this.failure, command));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ProbeFailure({ code: 'ETIMEDOUT', timeoutPhase: phase, command, message: `No reply within ${timeoutMs} ms` }));
      }, timeoutMs);
      this.waiter = { resolve, reject: (err) => reject(this.withCommand(err, command)), timer };
    });
  }

  private withCommand(err: ProbeFailure, command: string | undefined): ProbeFailure {
    return command && !err.facts.command ? new ProbeFailure({ ...err.facts, command }) : err;
  }

  /** Sends one command line and waits for its reply. `shown` is what may be displayed (AUTH lines hide the secret). */
  async command(line: string, timeoutMs: number, command: string): Promise<SmtpReply> {
    if (this.failure) throw this.withCommand(this.failure, command);
    this.socket!.write(`${line}\r\n`);
    return this.read(timeoutMs, 'command', command);
  }

  /** Best effort: a polite QUIT when the conversation is still open, then the socket is gone. */
  async close(quit: boolean) {
    const socket = this.socket;
    if (!socket) return;
    if (quit && !this.failure && !socket.destroyed) {
      try {
        await this.command('QUIT', 1000, 'QUIT');
      } catch {
        // the server may hang up first
      }
    }
    this.detach();
    socket.on('error', () => {});
    socket.destroy();
    // A read still waiting (a greeting given up on) ends now rather than at its time-out.
    this.fail({ code: 'ECONNRESET', message: 'Connection closed' });
  }
}
