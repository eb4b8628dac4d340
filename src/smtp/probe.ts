import { createHmac } from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { assertAllowed, DestinationRefused } from '../smtp/destination.js';
import { bannerChars, boundedReply, printable, replyLineChars } from '../smtp/reply.js';
import { ProbeFailure, SmtpChannel, type FailureFacts, type SmtpReply } from './channel.js';
import { diagnose, factsFromError } from './diagnosis.js';
import { connectHost, tlsOptionsFor, type SmtpEndpoint, type SmtpSettings } from './endpoint.js';
import { TokenFailure, type AccessToken, type OAuthCredentials, type OAuthTokens } from './oauth-tokens.js';
import type { Capabilities, Message, ProbeReport, ProbeStep, StepName, TlsDetails } from './report.js';

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

function withDeadline<T>(promise: Promise<T>, ms: number, facts: FailureFacts): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProbeFailure(facts)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const maxExtensions = 50;

/** The TCP connection under every SMTP conversation of the test: refused addresses are never dialled. */
function connectTcp(address: string, port: number, settings: SmtpSettings): Promise<net.Socket> {
  const timeoutMs = settings.connectTimeoutMs;
  try {
    assertAllowed(address, settings.destinations);
  } catch (err) {
    const refused = err as DestinationRefused;
    return Promise.reject(new ProbeFailure({ code: refused.code, command: 'CONN', message: refused.message, refused: { kind: refused.kind, address } }));
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProbeFailure({ code: 'ETIMEDOUT', timeoutPhase: 'connect', command: 'CONN', message: 'Connection timeout' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ProbeFailure({ code: err.code ?? 'ESOCKET', command: 'CONN', message: err.message }));
    });
  });
}

/** The TLS handshake never rejects a certificate itself: the certificate step judges it, after reading what it says. */
function startTls(socket: net.Socket, endpoint: SmtpEndpoint, settings: SmtpSettings, command: string): Promise<tls.TLSSocket> {
  // Errors of the wrapped socket surface on the TLS socket; this keeps a late one from going unhandled.
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ ...tlsOptionsFor(endpoint, settings), socket, host: connectHost(endpoint.host), rejectUnauthorized: false });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new ProbeFailure({ code: 'ETIMEDOUT', timeoutPhase: 'tls', command, message: 'TLS handshake timeout' }));
    }, settings.connectTimeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new ProbeFailure({ code: 'ESOCKET', originalCode: err.code, command, message: err.message }));
    });
  });
}

function nameOf(entity: Record<string, string | string[] | undefined> | undefined): string {
  if (!entity) return '';
  const pick = (key: string) => {
    const value = entity[key];
    return Array.isArray(value) ? value.join(' + ') : value;
  };
  return ['CN', 'O', 'OU', 'C']
    .map((key) => [key, pick(key)] as const)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

export function tlsDetailsOf(socket: tls.TLSSocket): TlsDetails {
  const cert = socket.getPeerCertificate();
  const altNames = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  const subject = cert.subject as unknown as Record<string, string | string[]> | undefined;
  const cn = subject?.CN;
  const date = (value: string | undefined) => (value ? new Date(value).toISOString() : null);
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    subject: nameOf(subject),
    subjectName: (Array.isArray(cn) ? cn[0] : cn) || altNames[0] || '',
    issuer: nameOf(cert.issuer as unknown as Record<string, string | string[]> | undefined),
    altNames,
    validFrom: date(cert.valid_from),
    validTo: date(cert.valid_to),
    fingerprint256: cert.fingerprint256 ?? null,
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
  };
}

export function parseEhlo(reply: SmtpReply): Capabilities {
  // Keywords and their parameters, not whatever a server writes after them.
  const extensions = reply.lines.slice(1, 1 + maxExtensions).map((line) => line.slice(4).trim().slice(0, replyLineChars)).filter(Boolean);
  const auth = new Set<string>();
  let size: number | null = null;
  let starttls = false;
  for (const line of extensions) {
    const authMatch = /^AUTH[\s=](.*)$/i.exec(line);
    if (authMatch) for (const mechanism of authMatch[1]!.split(/[\s=]+/)) if (mechanism) auth.add(mechanism.toUpperCase());
    const sizeMatch = /^SIZE(?:\s+(\d+))?$/i.exec(line);
    if (sizeMatch) size = Number(sizeMatch[1] ?? 0);
    if (/^STARTTLS$/i.test(line)) starttls = true;
  }
  return { extensions, auth: [...auth], size, starttls };
}

/** The reply kept for the report: a refused greeting by its first line, any other reply by its first three. */
function smtpFailure(reply: SmtpReply, command: string, code = 'EPROTOCOL'): ProbeFailure {
  const bounded = boundedReply(reply.text, command === 'GREETING' ? 1 : 3);
  const response = 'reply' in bounded ? bounded.reply : bounded.notSmtp;
  return new ProbeFailure({ code, responseCode: reply.code, response, command, message: response });
}

const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');

/** AUTH with the first mechanism nodemailer would use; the credentials never appear in the step. */
async function authenticate(channel: SmtpChannel, mechanisms: string[], username: string, password: string, timeoutMs: number) {
  const mechanism = ['PLAIN', 'LOGIN', 'CRAM-MD5'].find((m) => mechanisms.includes(m));
  if (!mechanism) {
    throw new ProbeFailure({ code: 'EAUTH', command: 'AUTH', message: `No supported authentication mechanism (${mechanisms.join(' ')})`, responseCode: 504 });
  }
  const command = `AUTH ${mechanism}`;
  let reply: SmtpReply;
  if (mechanism === 'PLAIN') {
    reply = await channel.command(`AUTH PLAIN ${b64(`\u0000${username}\u0000${password}`)}`, timeoutMs, command);
  } else if (mechanism === 'LOGIN') {
    reply = await channel.command('AUTH LOGIN', timeoutMs, command);
    if (reply.code === 334) reply = await channel.command(b64(username), timeoutMs, command);
    if (reply.code === 334) reply = await channel.command(b64(password), timeoutMs, command);
  } else {
    reply = await channel.command('AUTH CRAM-MD5', timeoutMs, command);
    if (reply.code === 334) {
      const challenge = Buffer.from(reply.text.slice(4).trim(), 'base64').toString('utf8');
      const digest = createHmac('md5', password).update(challenge).digest('hex');
      reply = await channel.command(b64(`${username} ${digest}`), timeoutMs, command);
    }
  }
  if (reply.code !== 235) throw smtpFailure(reply, command, 'EAUTH');
  return { mechanism, reply };
}

/** One line of a reply for the step list: the first line, without the server's long tail. */
function shortReply(reply: SmtpReply): string {
  const first = reply.lines[0]!.slice(0, replyLineChars);
  return reply.lines.length > 1 ? `${first} (+${reply.lines.length - 1})` : first;
}

/**
 * Walks the real sending path and stops before sending anything: resolve, connect, TLS (implicit or STARTTLS),
 * certificate, greeting, EHLO, AUTH, MAIL FROM, RCPT TO, then RSET and QUIT. Each step is timed; the first
 * failure ends the test and is diagnosed. nodemailer's verify() would stop after AUTH and miss a refused sender.
 */
export async function probeServer(
  endpoint: SmtpEndpoint,
  password: string | null,
  settings: SmtpSettings,
  /** `address`: one already resolved and checked (by the confirmation's send), used instead of a second lookup. */
  options: { certificateOnly?: boolean; address?: string; oauth?: { credentials: OAuthCredentials; tokens: OAuthTokens } } = {},
): Promise<ProbeReport> {
  const startedAt = new Date();
  const start = performance.now();
  const steps: ProbeStep[] = [];
  const report: ProbeReport = {
    version: 1,
    ok: false,
    startedAt: startedAt.toISOString(),
    totalMs: 0,
    target: {
      host: endpoint.host,
      port: endpoint.port,
      security: endpoint.security,
      authentication: endpoint.authentication,
      email: endpoint.email,
      username: endpoint.authentication !== 'none' ? endpoint.username : '',
      verifyCertificate: endpoint.verifyCertificate,
    },
    address: null,
    banner: null,
    capabilities: null,
    tls: null,
    steps,
    diagnosis: null,
  };

  let socket: net.Socket | tls.TLSSocket | null = null;
  let channel: SmtpChannel | null = null;
  let tlsDetected = false;
  let detection: Promise<TlsDetection> | null = null;

  async function step<T>(
    name: StepName,
    run: () => Promise<T>,
    describe: (value: T) => Partial<ProbeStep> = () => ({}),
    sent?: string,
  ): Promise<T> {
    const begin = performance.now();
    try {
      const value = await run();
      steps.push({ name, outcome: 'ok', durationMs: elapsed(begin), ...(sent ? { sent } : {}), ...describe(value) });
      return value;
    } catch (err) {
      const facts = err instanceof ProbeFailure ? err.facts : factsFromError(err);
      steps.push({ name, outcome: 'failed', durationMs: elapsed(begin), ...(sent ? { sent } : {}), ...(facts.response ? { reply: facts.response } : {}) });
      throw err;
    }
  }

  /**
   * With STARTTLS or none, a port that has not greeted within a second may be waiting for a TLS ClientHello: a
   * second connection tries one while the first keeps waiting, so a mismatch is told in about a second and a
   * merely slow server still gets its full greeting time.
   */
  async function greetingOrImplicitTls(address: string): Promise<SmtpReply> {
    const reply = channel!.read(settings.greetingTimeoutMs, 'greeting', 'GREETING');
    if (endpoint.security === 'tls') return reply;
    const settled = reply.then(
      () => 'greeting' as const,
      () => 'greeting' as const,
    );
    const hint = sleep(settings.implicitTlsHintMs, 'late' as const, { ref: false });
    if ((await Promise.race([settled, hint])) === 'late') {
      detection = tryImplicitTls(address, endpoint, settings);
      const first = await Promise.race([settled, detection.then((d) => (d.detected ? ('tls' as const) : settled))]);
      if (first === 'tls') {
        throw new ProbeFailure({ code: 'ETIMEDOUT', timeoutPhase: 'greeting', command: 'GREETING', message: 'No greeting: the port answers TLS' });
      }
    }
    return reply;
  }

  function judgeCertificate(secure: tls.TLSSocket) {
    const details = tlsDetailsOf(secure);
    report.tls = details;
    const begin = performance.now();
    if (details.authorized) {
      steps.push({ name: 'certificate', outcome: 'ok', durationMs: elapsed(begin), note: { key: 'probe.note.certificateTrusted', params: { name: details.subjectName } } });
      return;
    }
    const error = details.authorizationError ?? 'UNTRUSTED';
    if (!endpoint.verifyCertificate) {
      const note: Message = { key: 'probe.note.certificateNotChecked', params: { name: details.subjectName, error } };
      steps.push({ name: 'certificate', outcome: 'warning', durationMs: elapsed(begin), note });
      return;
    }
    steps.push({ name: 'certificate', outcome: 'failed', durationMs: elapsed(begin), note: { key: 'probe.note.certificateRefused', params: { name: details.subjectName, error } } });
    throw new ProbeFailure({ code: 'ESOCKET', originalCode: error, command: 'CONN', message: error });
  }

  /** The token step, before AUTH XOAUTH2: which endpoint, how long, and whether the token is new or from the cache. */
  async function tokenStep(refresh: boolean): Promise<AccessToken> {
    const oauth = options.oauth;
    const begin = performance.now();
    if (!oauth) throw new ProbeFailure({ code: 'EAUTH', command: 'AUTH', message: 'No OAuth2 credentials' });
    const sent = `POST ${oauth.tokens.endpointOf(oauth.credentials)}`;
    try {
      const token = await oauth.tokens.token(oauth.credentials, endpoint.username, { refresh });
      const minutes = Math.max(0, Math.round((token.expiresAt - Date.now()) / 60_000));
      const key = !token.fetched ? 'probe.note.tokenCached' : refresh ? 'probe.note.tokenRefreshed' : 'probe.note.tokenFetched';
      steps.push({ name: 'token', outcome: 'ok', durationMs: elapsed(begin), sent, note: { key, params: { minutes } } });
      return token;
    } catch (err) {
      const failure = err instanceof TokenFailure ? err : new TokenFailure({ provider: oauth.credentials.provider, endpoint: oauth.tokens.endpointOf(oauth.credentials), network: String((err as Error).message ?? err) });
      const said = [failure.facts.status, failure.facts.error, failure.facts.description].filter(Boolean).join(' ') || failure.facts.network || '';
      steps.push({ name: 'token', outcome: 'failed', durationMs: elapsed(begin), sent, reply: said });
      throw new ProbeFailure({ code: 'EOAUTHTOKEN', command: 'TOKEN', message: failure.message, token: failure.facts });
    }
  }

  /** AUTH XOAUTH2 with a bearer token; a server's 334 challenge (its JSON error) is answered by an empty line. */
  async function xoauth2(accessToken: string): Promise<SmtpReply> {
    const line = `AUTH XOAUTH2 ${b64(`user=${endpoint.username}\u0001auth=Bearer ${accessToken}\u0001\u0001`)}`;
    const reply = await channel!.command(line, commandTimeout, 'AUTH XOAUTH2');
    return reply.code === 334 ? channel!.command('', commandTimeout, 'AUTH XOAUTH2') : reply;
  }

  const commandTimeout = settings.commandTimeoutMs;
  try {
    const host = connectHost(endpoint.host);
    let address = options.address ?? host;
    if (!options.address && !net.isIP(host)) {
      const found = await step(
        'dns',
        () =>
          withDeadline(
            dns.lookup(host).catch((err: NodeJS.ErrnoException) => {
              throw new ProbeFailure({ code: err.code ?? 'ENOTFOUND', command: 'CONN', message: err.message });
            }),
            settings.connectTimeoutMs,
            { code: 'ETIMEDOUT', timeoutPhase: 'connect', command: 'CONN', message: 'DNS lookup timeout' },
          ),
        (value) => ({ reply: value.address }),
      );
      address = found.address;
    }
    report.address = address;

    const plain = await step('connect', () => connectTcp(address, endpoint.port, settings), () => ({
      reply: `${address.includes(':') ? `[${address}]` : address}:${endpoint.port}`,
    }));
    socket = plain;

    if (endpoint.security === 'tls') {
      const secure = await step('tls', () => startTls(plain, endpoint, settings, 'CONN'), (s) => ({
        reply: [s.getProtocol(), s.getCipher()?.name].filter(Boolean).join(' · '),
      }));
      socket = secure;
      judgeCertificate(secure);
      if (options.certificateOnly) return report;
    }

    channel = new SmtpChannel(socket);
    const greeting = await step('greeting', () => greetingOrImplicitTls(address), (r) => ({
      reply: shortReply(r),
      outcome: r.code === 220 ? 'ok' : 'failed',
    }));
    // What the server says of itself, parsed: the first line only (a multi-line greeting may say more than it should).
    report.banner = printable(greeting.lines[0]!.slice(4), bannerChars);
    if (greeting.code !== 220) throw smtpFailure(greeting, 'GREETING');

    const ehloLine = `EHLO ${settings.clientName}`;
    let hello = await step('ehlo', () => channel!.command(ehloLine, commandTimeout, 'EHLO'), (r) => ({ reply: shortReply(r), outcome: r.code === 250 ? 'ok' : 'warning' }), ehloLine);
    if (hello.code !== 250) {
      // An old server without ESMTP: HELO, and no extensions.
      const heloLine = `HELO ${settings.clientName}`;
      hello = await step('ehlo', () => channel!.command(heloLine, commandTimeout, 'HELO'), (r) => ({ reply: shortReply(r) }), heloLine);
      if (hello.code !== 250) throw smtpFailure(hello, 'EHLO');
    }
    let capabilities = parseEhlo(hello);
    report.capabilities = capabilities;

    if (endpoint.security === 'starttls') {
      const secure = await step(
        'starttls',
        async () => {
          if (!capabilities.starttls) {
            throw new ProbeFailure({ code: 'ETLS', command: 'STARTTLS', message: 'STARTTLS is not offered by the server' });
          }
          const reply = await channel!.command('STARTTLS', commandTimeout, 'STARTTLS');
          if (reply.code !== 220) throw smtpFailure(reply, 'STARTTLS', 'ETLS');
          const upgraded = await startTls(channel!.detach() as net.Socket, endpoint, settings, 'STARTTLS');
          channel!.attach(upgraded);
          return { reply, upgraded };
        },
        ({ reply, upgraded }) => ({
          reply: `${shortReply(reply)} → ${[upgraded.getProtocol(), upgraded.getCipher()?.name].filter(Boolean).join(' · ')}`,
        }),
        'STARTTLS',
      );
      socket = secure.upgraded;
      judgeCertificate(secure.upgraded);
      if (options.certificateOnly) return report;
      hello = await step('ehloAfterTls', () => channel!.command(ehloLine, commandTimeout, 'EHLO'), (r) => ({ reply: shortReply(r) }), ehloLine);
      if (hello.code !== 250) throw smtpFailure(hello, 'EHLO');
      capabilities = parseEhlo(hello);
      report.capabilities = capabilities;
    }

    if (endpoint.authentication === 'password') {
      if (capabilities.auth.length === 0) {
        // nodemailer skips AUTH when none is offered; the envelope steps then tell whether the server minds.
        steps.push({ name: 'auth', outcome: 'warning', note: { key: 'probe.note.noAuthOffered' } });
      } else {
        const mechanisms = capabilities.auth;
        const begin = performance.now();
        try {
          const { mechanism, reply } = await authenticate(channel, mechanisms, endpoint.username, password ?? '', commandTimeout);
          steps.push({ name: 'auth', outcome: 'ok', durationMs: elapsed(begin), sent: `AUTH ${mechanism}`, reply: shortReply(reply) });
        } catch (err) {
          const facts = err instanceof ProbeFailure ? err.facts : factsFromError(err);
          steps.push({ name: 'auth', outcome: 'failed', durationMs: elapsed(begin), sent: facts.command, ...(facts.response ? { reply: facts.response } : {}) });
          throw err;
        }
      }
    } else if (endpoint.authentication === 'oauth2-microsoft' || endpoint.authentication === 'oauth2-google') {
      if (!capabilities.auth.includes('XOAUTH2')) {
        steps.push({ name: 'auth', outcome: 'failed', sent: 'AUTH XOAUTH2' });
        throw new ProbeFailure({ code: 'EAUTH', command: 'AUTH', message: `XOAUTH2 is not an offered mechanism (${capabilities.auth.join(' ')})`, responseCode: 504 });
      }
      const token = await tokenStep(false);
      let begin = performance.now();
      let reply = await xoauth2(token.accessToken);
      if (reply.code !== 235 && !token.fetched) {
        // A token the server had accepted before is refused (revoked, or its rights changed): a new one, once.
        steps.push({ name: 'auth', outcome: 'warning', durationMs: elapsed(begin), sent: 'AUTH XOAUTH2', reply: shortReply(reply) });
        const fresh = await tokenStep(true);
        begin = performance.now();
        reply = await xoauth2(fresh.accessToken);
      }
      if (reply.code !== 235) {
        steps.push({ name: 'auth', outcome: 'failed', durationMs: elapsed(begin), sent: 'AUTH XOAUTH2', reply: shortReply(reply) });
        throw smtpFailure(reply, 'AUTH XOAUTH2', 'EAUTH');
      }
      steps.push({ name: 'auth', outcome: 'ok', durationMs: elapsed(begin), sent: 'AUTH XOAUTH2', reply: shortReply(reply) });
    } else {
      steps.push({ name: 'auth', outcome: 'skipped', note: { key: 'probe.note.noAuthConfigured' } });
    }

    const mailLine = `MAIL FROM:<${endpoint.email}>`;
    await step(
      'mailFrom',
      async () => {
        const reply = await channel!.command(mailLine, commandTimeout, 'MAIL FROM');
        if (reply.code !== 250) throw smtpFailure(reply, 'MAIL FROM', 'EENVELOPE');
        return reply;
      },
      (r) => ({ reply: shortReply(r) }),
      mailLine,
    );
    const rcptLine = `RCPT TO:<${endpoint.email}>`;
    await step(
      'rcptTo',
      async () => {
        const reply = await channel!.command(rcptLine, commandTimeout, 'RCPT TO');
        if (reply.code !== 250 && reply.code !== 251) throw smtpFailure(reply, 'RCPT TO', 'EENVELOPE');
        return reply;
      },
      (r) => ({ reply: shortReply(r) }),
      rcptLine,
    );
    report.ok = true;

    // Nothing is sent: the transaction is reset and the session closed. Their failure does not fail the test.
    for (const [name, line] of [
      ['rset', 'RSET'],
      ['quit', 'QUIT'],
    ] as const) {
      const begin = performance.now();
      try {
        const reply = await channel.command(line, commandTimeout, line);
        const good = name === 'rset' ? reply.code === 250 : reply.code === 221;
        steps.push({ name, outcome: good ? 'ok' : 'warning', durationMs: elapsed(begin), sent: line, reply: shortReply(reply) });
      } catch (err) {
        const facts = err instanceof ProbeFailure ? err.facts : factsFromError(err);
        steps.push({ name, outcome: 'warning', durationMs: elapsed(begin), sent: line, reply: facts.response ?? facts.message ?? '' });
        break;
      }
    }
  } catch (err) {
    const facts = err instanceof ProbeFailure ? err.facts : factsFromError(err);
    if (facts.timeoutPhase === 'greeting' && endpoint.security !== 'tls' && report.address) {
      const found = await (detection ?? tryImplicitTls(report.address, endpoint, settings));
      steps.push(detectionStep(found));
      tlsDetected = found.detected;
    }
    report.diagnosis = diagnose(facts, {
      endpoint,
      connectTimeoutMs: settings.connectTimeoutMs,
      greetingTimeoutMs: settings.greetingTimeoutMs,
      tls: report.tls,
      tlsDetected,
    });
  } finally {
    // A polite QUIT only where a conversation began; a silent or TLS-only port gets none.
    if (channel) await channel.close(!report.ok && report.banner !== null);
    socket?.destroy();
    report.totalMs = elapsed(start);
  }
  return report;
}

interface TlsDetection {
  detected: boolean;
  durationMs: number;
  /** Protocol and cipher of the handshake, when there was one. */
  reply: string;
}

/** A server that does not greet a plain connection may be waiting for a TLS handshake (port 465): try one. */
async function tryImplicitTls(address: string, endpoint: SmtpEndpoint, settings: SmtpSettings): Promise<TlsDetection> {
  const begin = performance.now();
  let socket: net.Socket | null = null;
  try {
    socket = await connectTcp(address, endpoint.port, settings);
    const secure = await startTls(socket, endpoint, settings, 'CONN');
    const reply = [secure.getProtocol(), secure.getCipher()?.name].filter(Boolean).join(' · ');
    secure.destroy();
    return { detected: true, durationMs: elapsed(begin), reply };
  } catch {
    return { detected: false, durationMs: elapsed(begin), reply: '' };
  } finally {
    socket?.destroy();
  }
}

function detectionStep(found: TlsDetection): ProbeStep {
  return found.detected
    ? { name: 'tlsDetect', outcome: 'ok', durationMs: found.durationMs, reply: found.reply, note: { key: 'probe.note.tlsDetected' } }
    : { name: 'tlsDetect', outcome: 'skipped', note: { key: 'probe.note.tlsNotDetected' } };
}

/** True when the port, at this already checked address, completes a TLS handshake right away (usually 465). */
export async function speaksImplicitTls(address: string, endpoint: SmtpEndpoint, settings: SmtpSettings): Promise<boolean> {
  return (await tryImplicitTls(address, endpoint, settings)).detected;
}
