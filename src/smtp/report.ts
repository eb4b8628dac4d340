import { bannerChars, printable } from '../smtp/reply.js';
import { boundedParams, boundedStoredReply } from './diagnosis.js';
import type { SmtpEndpoint } from './endpoint.js';
import type { MessageKey, Params } from '../i18n/index.js';

/** A sentence for the admin, translated when shown (so a stored result reads in each viewer's language). */
export interface Message {
  key: MessageKey;
  params?: Params;
}

export type DiagnosisKind =
  | 'authFailed'
  | 'authRequired'
  | 'authMechanism'
  | 'starttlsRequired'
  | 'starttlsUnavailable'
  | 'tlsNotSpoken'
  | 'tlsExpected'
  | 'greetingTimeout'
  | 'greetingRefused'
  | 'certSelfSigned'
  | 'certExpired'
  | 'certNotYetValid'
  | 'certNameMismatch'
  | 'certUntrusted'
  | 'tlsFailed'
  | 'connectionRefused'
  | 'timeout'
  | 'hostNotFound'
  | 'senderRefused'
  | 'recipientRefused'
  | 'connectionClosed'
  | 'notSmtp'
  | 'addressRefused'
  | 'tokenTenant'
  | 'tokenSecret'
  | 'tokenSecretExpired'
  | 'tokenConsent'
  | 'tokenAppNotFound'
  | 'tokenDelegation'
  | 'tokenKeyInvalid'
  | 'tokenUnreachable'
  | 'tokenRefused'
  | 'oauthRefused'
  | 'smtpAuthDisabled'
  | 'basicAuthDisabled'
  | 'unknown';

export interface Diagnosis extends Message {
  kind: DiagnosisKind;
  /** The server's own words, shown under the diagnosis for whoever runs that server. */
  reply?: string;
}

export type StepName =
  | 'dns'
  | 'connect'
  | 'tls'
  | 'certificate'
  | 'greeting'
  | 'ehlo'
  | 'starttls'
  | 'ehloAfterTls'
  | 'token'
  | 'auth'
  | 'mailFrom'
  | 'rcptTo'
  | 'rset'
  | 'quit'
  | 'tlsDetect';

export type StepOutcome = 'ok' | 'failed' | 'warning' | 'skipped';

export interface ProbeStep {
  name: StepName;
  outcome: StepOutcome;
  /** Absent when the step did not run (skipped): no duration to show. */
  durationMs?: number;
  /** The command as sent; AUTH shows only its mechanism, never the credentials. */
  sent?: string;
  reply?: string;
  note?: Message;
}

export interface TlsDetails {
  protocol: string | null;
  cipher: string | null;
  subject: string;
  /** The name the certificate was issued to (CN, else its first alternative name). */
  subjectName: string;
  issuer: string;
  altNames: string[];
  validFrom: string | null;
  validTo: string | null;
  fingerprint256: string | null;
  authorized: boolean;
  authorizationError: string | null;
}

export interface Capabilities {
  extensions: string[];
  auth: string[];
  size: number | null;
  starttls: boolean;
}

/** The endpoint a test was run against, kept with its result. */
export type ProbeTarget = SmtpEndpoint;

/** The whole connection test, as stored in smtp_servers.last_test_summary (JSON) and shown on the result page. */
export interface ProbeReport {
  version: 1;
  ok: boolean;
  startedAt: string;
  totalMs: number;
  target: ProbeTarget;
  address: string | null;
  banner: string | null;
  capabilities: Capabilities | null;
  tls: TlsDetails | null;
  steps: ProbeStep[];
  diagnosis: Diagnosis | null;
}

/** Reads a stored report back; anything else (an older free-text summary) gives null. */
export function parseReport(stored: string | null | undefined): ProbeReport | null {
  if (!stored || !stored.startsWith('{')) return null;
  try {
    const value = JSON.parse(stored) as ProbeReport;
    if (!value || value.version !== 1 || !Array.isArray(value.steps)) return null;
    // Reports stored before banners were parsed kept every line of a greeting: show its first line only.
    if (typeof value.banner === 'string') value.banner = printable(value.banner.split('\n')[0]!, bannerChars);
    // …and diagnoses that repeated a non-SMTP service's whole answer.
    if (value.diagnosis) {
      value.diagnosis.params = boundedParams(value.diagnosis.params);
      if (typeof value.diagnosis.reply === 'string') value.diagnosis.reply = boundedStoredReply(value.diagnosis.reply);
    }
    return value;
  } catch {
    return null;
  }
}
