import type { MessageKey, Params, Translate } from '../i18n/index.js';
import { DestinationRefused } from '../smtp/destination.js';
import { boundedReply, messageChars, printable } from '../smtp/reply.js';
import type { FailureFacts } from './channel.js';
import type { SmtpEndpoint } from './endpoint.js';
import { TokenFailure, type TokenFailureFacts } from './oauth-tokens.js';
import type { Diagnosis, DiagnosisKind, TlsDetails } from './report.js';

export interface DiagnosisContext {
  endpoint: SmtpEndpoint;
  connectTimeoutMs: number;
  greetingTimeoutMs: number;
  /** The certificate seen, when a TLS handshake got that far: it names what the certificate was issued to. */
  tls?: TlsDetails | null;
  /** A plain connection got no greeting, but a TLS handshake on the same port worked. */
  tlsDetected?: boolean;
}

const selfSignedCodes = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);
const untrustedCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
]);

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** The certificate error behind a failure, whichever of its codes or words carries it. */
function certificateCode(facts: FailureFacts): string | null {
  for (const code of [facts.originalCode, facts.code]) {
    if (!code) continue;
    if (selfSignedCodes.has(code) || untrustedCodes.has(code)) return code;
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' || code === 'ERR_TLS_CERT_ALTNAME_INVALID') return code;
  }
  const message = facts.message ?? '';
  if (/self[- ]signed certificate in certificate chain/i.test(message)) return 'SELF_SIGNED_CERT_IN_CHAIN';
  if (/self[- ]signed certificate/i.test(message)) return 'DEPTH_ZERO_SELF_SIGNED_CERT';
  if (/certificate has expired/i.test(message)) return 'CERT_HAS_EXPIRED';
  if (/certificate is not yet valid/i.test(message)) return 'CERT_NOT_YET_VALID';
  if (/Hostname\/IP does not match certificate/i.test(message)) return 'ERR_TLS_CERT_ALTNAME_INVALID';
  if (/unable to (verify|get) .*(certificate|issuer)/i.test(message)) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
  return null;
}

function hasCode(facts: FailureFacts, ...codes: string[]): boolean {
  return codes.includes(facts.code ?? '') || codes.includes(facts.originalCode ?? '');
}

function make(kind: DiagnosisKind, params: Params, facts: FailureFacts, key: MessageKey = `diagnosis.${kind}` as MessageKey): Diagnosis {
  const reply = facts.response?.trim();
  return { kind, key, params, ...(reply ? { reply: reply.slice(0, 500) } : {}) };
}

/** The token endpoint's refusal, by Microsoft's AADSTS code or Google's OAuth error. */
function tokenDiagnosis(token: TokenFailureFacts, base: Params, facts: FailureFacts): Diagnosis {
  const params: Params = { ...base, endpoint: token.endpoint, code: token.aadsts ?? token.error ?? token.network ?? '?', detail: token.description ?? token.error ?? token.network ?? '?' };
  const withReply = { ...facts, response: token.description ?? token.error };
  if (token.network) return make('tokenUnreachable', params, { ...facts, response: undefined });
  if (token.error === 'invalid_key') return make('tokenKeyInvalid', params, { ...facts, response: undefined });
  switch (token.aadsts) {
    case 'AADSTS90002':
      return make('tokenTenant', params, withReply);
    case 'AADSTS7000215':
      return make('tokenSecret', params, withReply);
    case 'AADSTS7000222':
      return make('tokenSecretExpired', params, withReply);
    case 'AADSTS65001':
      return make('tokenConsent', params, withReply);
    case 'AADSTS700016':
      return make('tokenAppNotFound', params, withReply);
  }
  if (token.provider === 'google' && (token.error === 'invalid_grant' || token.error === 'unauthorized_client')) return make('tokenDelegation', params, withReply);
  return make('tokenRefused', params, withReply);
}

/**
 * Turns a failure (from the connection test or from nodemailer) into words an admin can act on.
 * Order matters: the most specific cause first, the server's bare reply code last.
 */
export function diagnose(facts: FailureFacts, context: DiagnosisContext): Diagnosis {
  const { endpoint } = context;
  const base: Params = { host: endpoint.host, port: endpoint.port, email: endpoint.email, username: endpoint.username };
  const message = facts.message ?? '';
  const response = facts.response ?? '';
  const command = (facts.command ?? '').toUpperCase();
  const code = facts.responseCode;
  const certName = context.tls?.subjectName || '?';
  const issuer = context.tls?.issuer || '?';

  if (facts.refused) {
    const key = `diagnosis.addressRefused.${facts.refused.kind}` as MessageKey;
    return make('addressRefused', { ...base, address: facts.refused.address }, facts, key);
  }
  if (facts.notSmtp !== undefined) return make('notSmtp', { ...base, sample: facts.notSmtp }, facts);
  if (facts.token) return tokenDiagnosis(facts.token, base, facts);
  // Microsoft's own codes: SMTP AUTH off for the tenant or the mailbox, basic authentication retired.
  if (/\b5\.7\.139\b/.test(response)) return make('smtpAuthDisabled', base, facts);
  if (/\b5\.7\.30\b/.test(response) || /Basic authentication is not supported/i.test(response)) return make('basicAuthDisabled', base, facts);

  const cert = certificateCode(facts);
  if (cert) {
    if (selfSignedCodes.has(cert)) return make('certSelfSigned', { ...base, name: certName }, facts);
    if (cert === 'CERT_HAS_EXPIRED') return make('certExpired', { ...base, name: certName, date: context.tls?.validTo ?? '?' }, facts);
    if (cert === 'CERT_NOT_YET_VALID') return make('certNotYetValid', { ...base, name: certName, date: context.tls?.validFrom ?? '?' }, facts);
    if (cert === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const names = context.tls?.altNames.length ? context.tls.altNames.join(', ') : certName;
      return make('certNameMismatch', { ...base, name: names }, facts);
    }
    return make('certUntrusted', { ...base, name: certName, issuer }, facts);
  }

  if (hasCode(facts, 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA') || (facts.code === 'EDNS' && !code)) {
    return make('hostNotFound', base, facts);
  }
  if (hasCode(facts, 'ECONNREFUSED')) return make('connectionRefused', base, facts);

  if (
    hasCode(facts, 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_HTTP_REQUEST') ||
    /wrong version number|packet length too long|unknown protocol/i.test(message)
  ) {
    return make('tlsNotSpoken', base, facts);
  }

  const greetingTimedOut = facts.timeoutPhase === 'greeting' || /Greeting never received/i.test(message);
  if (greetingTimedOut) {
    if (context.tlsDetected) return make('tlsExpected', base, facts);
    const params = { ...base, seconds: seconds(context.greetingTimeoutMs) };
    // A plain client on an implicit-TLS port waits for a greeting that never comes: say so when TLS is not chosen.
    return make('greetingTimeout', params, facts, endpoint.security === 'tls' ? 'diagnosis.greetingTimeout' : 'diagnosis.greetingTimeoutPlain');
  }
  if (facts.code === 'ETIMEDOUT' || hasCode(facts, 'ETIMEDOUT')) {
    const phase = facts.timeoutPhase ?? (/Connection timeout/i.test(message) ? 'connect' : 'command');
    const ms = phase === 'command' ? context.greetingTimeoutMs : context.connectTimeoutMs;
    return make('timeout', { ...base, seconds: seconds(ms), step: command || phase }, facts);
  }

  if (code === 538 || ((code === 530 || code === 554 || code === 523) && /STARTTLS|TLS/i.test(response))) {
    return make('starttlsRequired', base, facts);
  }
  if (command === 'STARTTLS' || (facts.code === 'ETLS' && /STARTTLS/i.test(message))) {
    return make('starttlsUnavailable', base, facts);
  }
  if (command === 'GREETING' && code) return make('greetingRefused', base, facts);

  const oauth = endpoint.authentication === 'oauth2-microsoft' || endpoint.authentication === 'oauth2-google';
  if (oauth && (command.startsWith('AUTH') || facts.code === 'EAUTH') && code !== 504 && !/mechanism/i.test(message)) {
    // The token was issued, yet the server refuses it: the permission on the mailbox side is what is missing.
    return make('oauthRefused', base, facts, endpoint.authentication === 'oauth2-microsoft' ? 'diagnosis.oauthRefused.microsoft' : 'diagnosis.oauthRefused.google');
  }
  if (command.startsWith('AUTH') || facts.code === 'EAUTH') {
    if (/Missing credentials/i.test(message)) return make('authFailed', base, facts);
    if (code === 504 || /mechanism/i.test(message)) return make('authMechanism', base, facts);
    return make('authFailed', base, facts);
  }
  if (code === 530 || code === 535) return make(code === 535 ? 'authFailed' : 'authRequired', base, facts);

  if (command === 'MAIL FROM') return make('senderRefused', base, facts);
  if (command === 'RCPT TO') return make('recipientRefused', base, facts);

  if (facts.code === 'ETLS' || hasCode(facts, 'EPROTO') || /SSL|TLS/.test(message)) {
    return make('tlsFailed', { ...base, detail: message || response }, facts);
  }
  if (hasCode(facts, 'ECONNRESET', 'EPIPE', 'ECONNECTION') || /closed|hang up/i.test(message)) {
    return make('connectionClosed', base, facts);
  }
  // The server's reply is shown under the diagnosis already: the detail is the error's own words.
  return make('unknown', { ...base, detail: message || response || facts.code || '?' }, facts);
}

/** The facts of a nodemailer error (or any Node error). */
export function factsFromError(err: unknown): FailureFacts {
  const e = (err ?? {}) as { code?: unknown; originalCode?: unknown; responseCode?: unknown; response?: unknown; command?: unknown; message?: unknown };
  const raw = typeof e.message === 'string' ? e.message : String(err);
  const response = typeof e.response === 'string' ? e.response : '';
  // nodemailer writes the server's whole reply into its message ("Invalid greeting. response=…: …"): only the
  // bounded reply below may be shown.
  const message = printable(response.trim() ? raw.split(response.trim()).join(' ').replace(/[\s.:]*(response=[\s.:]*)?$/i, '') : raw, messageChars);
  const facts: FailureFacts = { message };
  if (typeof e.code === 'string') facts.code = e.code;
  if (typeof e.originalCode === 'string') facts.originalCode = e.originalCode;
  if (typeof e.responseCode === 'number') facts.responseCode = e.responseCode;
  if (typeof e.command === 'string') facts.command = e.command;
  // nodemailer's refused greeting is the probe's: both say « greetingRefused ».
  if (/^Invalid greeting/i.test(raw)) facts.command = 'GREETING';
  if (response.trim()) {
    const bounded = boundedReply(response, facts.command === 'GREETING' ? 1 : 3);
    if ('notSmtp' in bounded) facts.notSmtp = bounded.notSmtp;
    else facts.response = bounded.reply;
  }
  if (err instanceof DestinationRefused) facts.refused = { kind: err.kind, address: err.address };
  if (err instanceof TokenFailure) facts.token = err.facts;
  if (/Greeting never received/i.test(message)) facts.timeoutPhase = 'greeting';
  else if (/Connection timeout/i.test(message)) facts.timeoutPhase = 'connect';
  return facts;
}

/** True when the failure is about the server's certificate (then a look at it names what it was issued to). */
export function isCertificateFailure(facts: FailureFacts): boolean {
  return certificateCode(facts) !== null;
}

/** The params of a stored diagnosis, bounded when read back: rows written before replies were bounded may hold a service's whole banner. */
export function boundedParams(params: Params | undefined): Params {
  const bounded: Params = {};
  for (const [name, value] of Object.entries(params ?? {})) bounded[name] = typeof value === 'string' ? printable(value, messageChars) : value;
  return bounded;
}

/** A stored reply read back: SMTP lines kept short, anything else reduced to its first printable characters. */
export function boundedStoredReply(reply: string): string {
  const bounded = boundedReply(reply, 3);
  return 'reply' in bounded ? bounded.reply : bounded.notSmtp;
}

/** A confirmation failure as stored ({ key, params } JSON, or an older free text), in the reader's language and bounded. */
export function storedFailureWords(raw: string | null | undefined, t: Translate): string {
  if (!raw) return '';
  if (!raw.startsWith('{')) return printable(raw, messageChars);
  try {
    const { key, params } = JSON.parse(raw) as { key: MessageKey; params?: Params };
    return t(key, boundedParams(params));
  } catch {
    return printable(raw, messageChars);
  }
}
