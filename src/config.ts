import path from 'node:path';
import { parseNetwork } from './smtp/destination.js';

export interface RelaisConfig {
  port: number;
  host: string;
  /** The SQLite file, beside which the key file lives when RELAIS_SECRET is not set; null on PostgreSQL. */
  dbFile: string | null;
  /** RELAIS_DB: a postgres:// or postgresql:// URL selects PostgreSQL, anything else is a SQLite file path. */
  database: DatabaseConfig;
  publicUrl: string;
  /** Raw RELAIS_SECRET; when empty a key file next to the SQLite database is used (required on PostgreSQL). */
  secret: string | undefined;
  /** Earlier secrets, still accepted for decryption while passwords are re-encrypted. */
  previousSecrets: string[];
  production: boolean;
  logLevel: string;
  /**
   * RELAIS_TRUST_PROXY, handed to Fastify: false (the peer's address), a hop count (1: the address the nearest proxy
   * saw), the proxies' addresses/networks, or true (the left-most X-Forwarded-For, which any client can write).
   */
  trustProxy: TrustProxy;
  /** TZ: the zone pages, mails and exports show dates in. */
  timeZone: string;
  /** RELAIS_SHUTDOWN_GRACE_MS: how long requests in flight may take to finish on SIGTERM. */
  shutdownGraceMs: number;
  cookieSecret: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  /** log2 of scrypt's N for new password hashes; 17 (OWASP's minimum) unless a test lowers it. */
  passwordHashCost: number;
  /** Password hashes computed at once, and verifications allowed to wait for one (more get a 503). */
  passwordHashConcurrency: number;
  passwordHashQueue: number;
  /** Further waiting places kept for verifications unlikely to be an attack (see src/auth/throttle.ts, `trusted`). */
  passwordHashReserved: number;
  /** Sign-in throttling: see src/auth/throttle.ts for what each number limits. */
  loginThrottle: {
    windowMinutes: number;
    pairMaxFailures: number;
    accountFreeFailures: number;
    accountMaxDelaySeconds: number;
    addressMaxFailures: number;
    accountFreshAddresses: number;
    trustedDays: number;
  };
  confirmationTtlHours: number;
  smtpConnectTimeoutMs: number;
  smtpGreetingTimeoutMs: number;
  /** PEM bundle of extra CAs trusted for SMTP TLS (RELAIS_SMTP_CA_FILE). */
  smtpCaFile: string | undefined;
  /** RELAIS_SMTP_ALLOW_PRIVATE=true: SMTP connections may go to loopback, link-local and metadata addresses. */
  smtpAllowPrivate: boolean;
  /** RELAIS_SMTP_ALLOWED_NETWORKS: networks (CIDR) allowed although refused by default, e.g. 127.0.0.0/8 for a local Postfix. */
  smtpAllowedNetworks: string[];
  /** RELAIS_API_RATE_LIMIT_PER_MINUTE: requests one API token may make per minute, over every instance. */
  apiRateLimitPerMinute: number;
  /** The sending outbox: see src/outbox/worker.ts and the README's « Outbox » section. */
  outbox: OutboxSettings;
  /** Alert mails and the webhook: see src/alerts/ and the README's « Alertes » section. */
  alerts: AlertSettings;
  /** RELAIS_METRICS_TOKEN: the bearer token /metrics asks for; absent, /metrics is off (404). */
  metricsToken: string | undefined;
  /** RELAIS_OAUTH_MICROSOFT_AUTHORITY: where Microsoft 365 tokens come from (`<authority>/<tenant>/oauth2/v2.0/token`). */
  oauthMicrosoftAuthority: string;
  /** RELAIS_OAUTH_GOOGLE_TOKEN_URL: Google's token endpoint for service accounts. */
  oauthGoogleTokenUrl: string;
  /** RELAIS_HEALTH_CHECK_MINUTES: how often every active server gets the connection test by itself; 0: never. */
  healthCheckIntervalMs: number;
}

export interface OutboxSettings {
  /** RELAIS_OUTBOX_WORKER=false: this instance accepts messages but sends none (another instance does). */
  worker: boolean;
  /** Messages one instance sends at once. */
  concurrency: number;
  /** How long a claimed message stays this instance's; after that, another instance may take it over. */
  leaseMs: number;
  /** How often an idle worker looks for due messages (an accept on this instance wakes it at once). */
  pollMs: number;
  /** Waits after a round in which every server failed, in order; the last one repeats. */
  backoffMs: number[];
  /** Past this age a message that could not be delivered fails. */
  maxAgeMs: number;
  /** Bodies and attachments are purged after this many days (RELAIS_MESSAGE_RETENTION_DAYS). */
  retentionDays: number;
  /** Failures in a row after which a server is « en panne », and for how long. */
  downAfterFailures: number;
  downForMs: number;
  /** Waiting for the server's answer while sending (socket time-out); past it after DATA, the message may have arrived. */
  sendTimeoutMs: number;
  /** Connections of one server's pool. */
  poolConnections: number;
  /** How long a worker reuses what it read of a department's route and a server's row (0: read at every message). */
  routeCacheMs: number;
}

export interface AlertSettings {
  /** RELAIS_ALERT_INTERVAL_SECONDS: how often an alert pass compares the state (0: never, on this instance). */
  intervalMs: number;
  /** RELAIS_ALERT_SUBJECT_MINUTES: at most one alert mail per subject (a server, a department) in this time. */
  subjectHoldMs: number;
  /** RELAIS_ALERT_WEBHOOK_URL: gets a signed JSON POST per pass that saw changes; null: none. */
  webhookUrl: string | null;
  /** RELAIS_ALERT_WEBHOOK_SECRET: the HMAC-SHA256 key of the webhook's signature (required with the URL). */
  webhookSecret: string | null;
  webhookTimeoutMs: number;
  /** A webhook call that fails is tried again at the next passes, this many times in all, then given up. */
  webhookMaxAttempts: number;
}

function alertSettingsFrom(env: NodeJS.ProcessEnv): AlertSettings {
  const webhookUrl = env.RELAIS_ALERT_WEBHOOK_URL ? urlFrom(env.RELAIS_ALERT_WEBHOOK_URL, '', 'RELAIS_ALERT_WEBHOOK_URL') : null;
  const webhookSecret = env.RELAIS_ALERT_WEBHOOK_SECRET || null;
  if (webhookUrl && !webhookSecret) throw new Error('RELAIS_ALERT_WEBHOOK_SECRET is required with RELAIS_ALERT_WEBHOOK_URL (the calls are signed with it)');
  return {
    intervalMs: Math.round(intFrom(env.RELAIS_ALERT_INTERVAL_SECONDS, 30, 'RELAIS_ALERT_INTERVAL_SECONDS') * 1000),
    subjectHoldMs: Math.round(intFrom(env.RELAIS_ALERT_SUBJECT_MINUTES, 60, 'RELAIS_ALERT_SUBJECT_MINUTES') * 60_000),
    webhookUrl,
    webhookSecret,
    webhookTimeoutMs: positiveIntFrom(env.RELAIS_ALERT_WEBHOOK_TIMEOUT_MS, 10_000, 'RELAIS_ALERT_WEBHOOK_TIMEOUT_MS'),
    webhookMaxAttempts: positiveIntFrom(env.RELAIS_ALERT_WEBHOOK_ATTEMPTS, 3, 'RELAIS_ALERT_WEBHOOK_ATTEMPTS'),
  };
}

function numbersFrom(value: string | undefined, fallback: number[], name: string): number[] {
  if (value === undefined || value.trim() === '') return fallback;
  const numbers = value.split(',').map((part) => Number(part.trim()));
  if (numbers.some((n) => !Number.isFinite(n) || n < 0)) throw new Error(`${name} must be non-negative numbers separated by commas, got "${value}"`);
  return numbers;
}

function outboxSettingsFrom(env: NodeJS.ProcessEnv): OutboxSettings {
  return {
    worker: env.RELAIS_OUTBOX_WORKER === undefined || env.RELAIS_OUTBOX_WORKER === '' ? true : booleanFrom(env.RELAIS_OUTBOX_WORKER, 'RELAIS_OUTBOX_WORKER'),
    concurrency: positiveIntFrom(env.RELAIS_OUTBOX_CONCURRENCY, 16, 'RELAIS_OUTBOX_CONCURRENCY'),
    leaseMs: intFrom(env.RELAIS_OUTBOX_LEASE_SECONDS, 300, 'RELAIS_OUTBOX_LEASE_SECONDS') * 1000,
    pollMs: intFrom(env.RELAIS_OUTBOX_POLL_MS, 1000, 'RELAIS_OUTBOX_POLL_MS'),
    backoffMs: numbersFrom(env.RELAIS_OUTBOX_BACKOFF_SECONDS, [60, 300, 900, 3600, 7200], 'RELAIS_OUTBOX_BACKOFF_SECONDS').map((s) => s * 1000),
    maxAgeMs: intFrom(env.RELAIS_OUTBOX_MAX_AGE_HOURS, 48, 'RELAIS_OUTBOX_MAX_AGE_HOURS') * 3_600_000,
    retentionDays: intFrom(env.RELAIS_MESSAGE_RETENTION_DAYS, 30, 'RELAIS_MESSAGE_RETENTION_DAYS'),
    downAfterFailures: positiveIntFrom(env.RELAIS_SERVER_DOWN_AFTER_FAILURES, 3, 'RELAIS_SERVER_DOWN_AFTER_FAILURES'),
    downForMs: intFrom(env.RELAIS_SERVER_DOWN_SECONDS, 300, 'RELAIS_SERVER_DOWN_SECONDS') * 1000,
    sendTimeoutMs: positiveIntFrom(env.RELAIS_SMTP_SEND_TIMEOUT_MS, 60_000, 'RELAIS_SMTP_SEND_TIMEOUT_MS'),
    poolConnections: positiveIntFrom(env.RELAIS_SMTP_POOL_CONNECTIONS, 5, 'RELAIS_SMTP_POOL_CONNECTIONS'),
    routeCacheMs: intFrom(env.RELAIS_OUTBOX_ROUTE_CACHE_MS, 1000, 'RELAIS_OUTBOX_ROUTE_CACHE_MS'),
  };
}

/** An http(s) URL without a trailing slash; a wrong one stops the start. */
function urlFrom(value: string | undefined, fallback: string, name: string): string {
  const raw = (value || fallback).trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an http:// or https:// URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${name} must be an http:// or https:// URL, got "${value}"`);
  return raw.replace(/\/+$/, '');
}

function positiveIntFrom(value: string | undefined, fallback: number, name: string): number {
  const n = intFrom(value, fallback, name);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${value}"`);
  return n;
}

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; poolSize?: number };

const defaultDbFile = './data/relais.sqlite';

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** PostgreSQL connections of one instance (RELAIS_DB_POOL_SIZE): the web requests, the accepts and the outbox worker share them. */
export const defaultPostgresPoolSize = 20;

export function databaseFrom(value: string | undefined, poolSize = defaultPostgresPoolSize): DatabaseConfig {
  if (value && isPostgresUrl(value)) return { kind: 'postgres', url: value, poolSize };
  return { kind: 'sqlite', file: path.resolve(value || defaultDbFile) };
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${value}"`);
  return n;
}

function booleanFrom(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || /^(false|0|no)$/i.test(value)) return false;
  if (/^(true|1|yes)$/i.test(value)) return true;
  throw new Error(`${name} must be true or false, got "${value}"`);
}

export type TrustProxy = boolean | number | string[];

function trustProxyFrom(value: string | undefined): TrustProxy {
  const text = (value ?? '').trim();
  if (text === '' || /^(false|no)$/i.test(text)) return false;
  if (/^(true|yes)$/i.test(text)) return true;
  if (/^\d+$/.test(text)) return Number(text);
  return networksFrom(text, 'RELAIS_TRUST_PROXY');
}

function timeZoneFrom(value: string | undefined): string {
  const zone = value || 'Europe/Paris';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new Error(`TZ must be a time zone such as Europe/Paris or UTC, got "${zone}"`);
  }
  return zone;
}

function networksFrom(value: string | undefined, name: string): string[] {
  const networks = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const wrong = networks.find((network) => parseNetwork(network) === null);
  if (wrong !== undefined) throw new Error(`${name}: "${wrong}" is not a network such as 127.0.0.0/8 or ::1/128`);
  return networks;
}

/** Below this, scrypt is weaker than OWASP's minimum; only the test suite may go lower, to sign in fast. */
export const minimumPasswordHashCost = 17;

function passwordHashCostFrom(env: NodeJS.ProcessEnv): number {
  const cost = intFrom(env.RELAIS_PASSWORD_HASH_COST, minimumPasswordHashCost, 'RELAIS_PASSWORD_HASH_COST');
  if (!Number.isInteger(cost) || cost < 1 || cost > 22) throw new Error(`RELAIS_PASSWORD_HASH_COST must be an integer from 1 to 22, got "${cost}"`);
  if (cost < minimumPasswordHashCost && env.NODE_ENV !== 'test') {
    throw new Error(`RELAIS_PASSWORD_HASH_COST below ${minimumPasswordHashCost} is only for the test suite (NODE_ENV=test)`);
  }
  return cost;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelaisConfig {
  const port = intFrom(env.PORT, 3000, 'PORT');
  const host = env.HOST || '127.0.0.1';
  const database = databaseFrom(env.RELAIS_DB, positiveIntFrom(env.RELAIS_DB_POOL_SIZE, defaultPostgresPoolSize, 'RELAIS_DB_POOL_SIZE'));
  const dbFile = database.kind === 'sqlite' ? database.file : null;
  const publicUrl = (env.RELAIS_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(/\/+$/, '');
  return {
    port,
    host,
    dbFile,
    database,
    publicUrl,
    secret: env.RELAIS_SECRET || undefined,
    previousSecrets: (env.RELAIS_PREVIOUS_SECRETS || '').split(',').map((s) => s.trim()).filter(Boolean),
    production: env.NODE_ENV !== 'development' && env.NODE_ENV !== 'test',
    logLevel: env.LOG_LEVEL || 'info',
    trustProxy: trustProxyFrom(env.RELAIS_TRUST_PROXY),
    timeZone: timeZoneFrom(env.TZ),
    shutdownGraceMs: positiveIntFrom(env.RELAIS_SHUTDOWN_GRACE_MS, 10_000, 'RELAIS_SHUTDOWN_GRACE_MS'),
    cookieSecret: env.RELAIS_COOKIE_SECRET || undefined,
    adminEmail: env.RELAIS_ADMIN_EMAIL || undefined,
    adminPassword: env.RELAIS_ADMIN_PASSWORD || undefined,
    sessionIdleMinutes: intFrom(env.RELAIS_SESSION_IDLE_MINUTES, 30, 'RELAIS_SESSION_IDLE_MINUTES'),
    sessionAbsoluteHours: intFrom(env.RELAIS_SESSION_ABSOLUTE_HOURS, 8, 'RELAIS_SESSION_ABSOLUTE_HOURS'),
    passwordHashCost: passwordHashCostFrom(env),
    passwordHashConcurrency: positiveIntFrom(env.RELAIS_PASSWORD_HASH_CONCURRENCY, 2, 'RELAIS_PASSWORD_HASH_CONCURRENCY'),
    passwordHashQueue: intFrom(env.RELAIS_PASSWORD_HASH_QUEUE, 10, 'RELAIS_PASSWORD_HASH_QUEUE'),
    passwordHashReserved: intFrom(env.RELAIS_PASSWORD_HASH_RESERVED, 5, 'RELAIS_PASSWORD_HASH_RESERVED'),
    loginThrottle: {
      windowMinutes: positiveIntFrom(env.RELAIS_LOGIN_WINDOW_MINUTES, 15, 'RELAIS_LOGIN_WINDOW_MINUTES'),
      pairMaxFailures: positiveIntFrom(env.RELAIS_LOGIN_PAIR_MAX_FAILURES, 5, 'RELAIS_LOGIN_PAIR_MAX_FAILURES'),
      accountFreeFailures: positiveIntFrom(env.RELAIS_LOGIN_ACCOUNT_FREE_FAILURES, 5, 'RELAIS_LOGIN_ACCOUNT_FREE_FAILURES'),
      accountMaxDelaySeconds: positiveIntFrom(env.RELAIS_LOGIN_ACCOUNT_MAX_DELAY_SECONDS, 900, 'RELAIS_LOGIN_ACCOUNT_MAX_DELAY_SECONDS'),
      addressMaxFailures: positiveIntFrom(env.RELAIS_LOGIN_ADDRESS_MAX_FAILURES, 100, 'RELAIS_LOGIN_ADDRESS_MAX_FAILURES'),
      accountFreshAddresses: intFrom(env.RELAIS_LOGIN_ACCOUNT_FRESH_ADDRESSES, 3, 'RELAIS_LOGIN_ACCOUNT_FRESH_ADDRESSES'),
      trustedDays: intFrom(env.RELAIS_LOGIN_TRUSTED_DAYS, 30, 'RELAIS_LOGIN_TRUSTED_DAYS'),
    },
    confirmationTtlHours: intFrom(env.RELAIS_CONFIRMATION_TTL_HOURS, 48, 'RELAIS_CONFIRMATION_TTL_HOURS'),
    smtpConnectTimeoutMs: intFrom(env.RELAIS_SMTP_CONNECT_TIMEOUT_MS, 10_000, 'RELAIS_SMTP_CONNECT_TIMEOUT_MS'),
    smtpGreetingTimeoutMs: intFrom(env.RELAIS_SMTP_GREETING_TIMEOUT_MS, 10_000, 'RELAIS_SMTP_GREETING_TIMEOUT_MS'),
    smtpCaFile: env.RELAIS_SMTP_CA_FILE || undefined,
    smtpAllowPrivate: booleanFrom(env.RELAIS_SMTP_ALLOW_PRIVATE, 'RELAIS_SMTP_ALLOW_PRIVATE'),
    smtpAllowedNetworks: networksFrom(env.RELAIS_SMTP_ALLOWED_NETWORKS, 'RELAIS_SMTP_ALLOWED_NETWORKS'),
    apiRateLimitPerMinute: positiveIntFrom(env.RELAIS_API_RATE_LIMIT_PER_MINUTE, 600, 'RELAIS_API_RATE_LIMIT_PER_MINUTE'),
    outbox: outboxSettingsFrom(env),
    alerts: alertSettingsFrom(env),
    metricsToken: env.RELAIS_METRICS_TOKEN || undefined,
    oauthMicrosoftAuthority: urlFrom(env.RELAIS_OAUTH_MICROSOFT_AUTHORITY, 'https://login.microsoftonline.com', 'RELAIS_OAUTH_MICROSOFT_AUTHORITY'),
    oauthGoogleTokenUrl: urlFrom(env.RELAIS_OAUTH_GOOGLE_TOKEN_URL, 'https://oauth2.googleapis.com/token', 'RELAIS_OAUTH_GOOGLE_TOKEN_URL'),
    // Fractions accepted (0.05: every 3 s, for the tests).
    healthCheckIntervalMs: Math.round(intFrom(env.RELAIS_HEALTH_CHECK_MINUTES, 15, 'RELAIS_HEALTH_CHECK_MINUTES') * 60_000),
  };
}
