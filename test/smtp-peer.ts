import { simpleParser, type ParsedMail } from 'mailparser';
import net from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { ServerView } from '../src/smtp-servers/repository.js';
import { text, validServer, type Client } from './helper.js';

type Test = { teardown: (fn: () => unknown) => void };

export interface ReceivedMessage {
  mail: ParsedMail;
  envelope: SMTPServerSession['envelope'];
  user: unknown;
}

export interface SmtpPeer {
  port: number;
  messages: ReceivedMessage[];
  /** Errors the server saw (a client giving up on TLS…): recorded, never thrown. */
  errors: Error[];
  /** How many AUTH attempts it answered. */
  authAttempts: number;
  /** How many TCP connections it accepted. */
  connections: number;
  /** Resolves with the n-th message (1-based) once it has arrived. */
  message(n: number, timeoutMs?: number): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

export const peerUser = { username: 'ventes@exemple.fr', password: 'S3cret-Passw0rd!' };

export interface PeerOptions extends Partial<SMTPServerOptions> {
  /** Accepted accounts; defaults to peerUser. */
  users?: Record<string, string>;
  /** Listen on this port (a server that comes back where it was) rather than a free one. */
  listenPort?: number;
}

/** A real SMTP server (smtp-server) on 127.0.0.1 and a free port, with what it received parsed by mailparser. */
export async function startSmtpPeer(t: Test, options: PeerOptions = {}): Promise<SmtpPeer> {
  const { users = { [peerUser.username]: peerUser.password }, listenPort = 0, ...serverOptions } = options;
  const messages: ReceivedMessage[] = [];
  const errors: Error[] = [];
  let waiting: { n: number; resolve: (message: ReceivedMessage) => void }[] = [];
  const peer = { authAttempts: 0, connections: 0 } as SmtpPeer;

  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    size: 10 * 1024 * 1024,
    banner: 'Relais test peer',
    ...serverOptions,
    onAuth(auth, _session, callback) {
      peer.authAttempts++;
      if (auth.username && users[auth.username] === auth.password) return callback(null, { user: auth.username });
      const err = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
      return callback(err);
    },
    onData(stream, session, callback) {
      // cid: links kept as sent, so a test can match an inline image with its attachment.
      simpleParser(stream, { keepCidLinks: true })
        .then((mail) => {
          const message = { mail, envelope: session.envelope, user: session.user };
          messages.push(message);
          const ready = waiting.filter((w) => messages.length >= w.n);
          waiting = waiting.filter((w) => messages.length < w.n);
          for (const w of ready) w.resolve(messages[w.n - 1]!);
          callback();
        })
        .catch(callback);
    },
  });
  // An unhandled 'error' (a client dropping a TLS handshake) would crash the test process.
  server.on('error', (err) => errors.push(err));
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', () => resolve()));
  const address = server.server.address() as net.AddressInfo;
  server.server.on('connection', () => peer.connections++);

  let closed = false;
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      server.close(() => resolve());
    });
  t.teardown(close);

  return Object.assign(peer, {
    port: address.port,
    messages,
    errors,
    close,
    message(n: number, timeoutMs = 5000) {
      return new Promise<ReceivedMessage>((resolve, reject) => {
        if (messages.length >= n) return resolve(messages[n - 1]!);
        const timer = setTimeout(() => reject(new Error(`message ${n} never arrived`)), timeoutMs);
        waiting.push({
          n,
          resolve: (message) => {
            clearTimeout(timer);
            resolve(message);
          },
        });
      });
    },
  });
}

/**
 * A raw TCP service on 127.0.0.1 that is not smtp-server: it says `hello` (after `delayMs`), then answers each line
 * it receives with `answer(line)` when given. For services that are not SMTP, or SMTP servers that greet late.
 */
export async function startRawService(
  t: Test,
  hello: string | Buffer,
  options: { delayMs?: number; answer?: (line: string) => string | null } = {},
): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const timer = setTimeout(() => socket.write(hello), options.delayMs ?? 0);
    socket.on('close', () => clearTimeout(timer));
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let index: number;
      while ((index = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, index).replace(/\r$/, '');
        buffer = buffer.slice(index + 1);
        const reply = options.answer?.(line);
        if (reply) socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

/** A minimal SMTP dialogue for startRawService: every command accepted, QUIT answered. */
export function acceptEverything(line: string): string {
  const verb = line.split(' ')[0]!.toUpperCase();
  return verb === 'QUIT' ? '221 bye\r\n' : verb === 'EHLO' ? '250-raw.test\r\n250 8BITMIME\r\n' : '250 ok\r\n';
}

/** A port that accepts connections and never says a word. */
export async function startSilentPeer(t: Test): Promise<number> {
  return (await startRawService(t, Buffer.alloc(0))).port;
}

/** A port where nothing listens: opened, noted, closed. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The form of a server in Relais that sends through this peer (plain port, AUTH), with any field changed. */
export function formFor(peer: SmtpPeer, overrides: Record<string, string> = {}) {
  return {
    ...validServer,
    host: '127.0.0.1',
    port: String(peer.port),
    security: 'none',
    username: peerUser.username,
    password: peerUser.password,
    // A password over a plain connection: unusual, so confirmed as the form asks.
    confirmCombination: 'on',
    ...overrides,
  };
}

/** Creates that server through the form, as an administrator would, and returns its id. */
export async function serverThrough(client: Client, peer: SmtpPeer, overrides: Record<string, string> = {}): Promise<number> {
  const res = await client.post('/smtp-servers', formFor(peer, overrides));
  if (res.statusCode !== 303) throw new Error(`server not created: ${res.statusCode} ${text(res.body).slice(0, 500)}`);
  const [newest] = (await client.app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  return newest!.id;
}

/** The saved server as the app reads it, its confirmation and last test included. */
export async function savedServer(client: Client, id: number): Promise<ServerView> {
  const server = await client.app.repositories.smtpServers.findServer(id);
  if (!server) throw new Error(`no server ${id}`);
  return server;
}
