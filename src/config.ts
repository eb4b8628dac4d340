import path from 'node:path';

export interface RelaisConfig {
  port: number;
  host: string;
  dbFile: string;
  publicUrl: string;
  /** Raw RELAIS_SECRET; when empty a key file next to the database is used. */
  secret: string | undefined;
  /** Earlier secrets, still accepted for decryption while passwords are re-encrypted. */
  previousSecrets: string[];
  production: boolean;
  logLevel: string;
  cookieSecret: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  /** log2 of scrypt's N for new password hashes; 17 (OWASP's minimum) unless a test lowers it. */
  passwordHashCost: number;
  confirmationTtlHours: number;
  smtpConnectTimeoutMs: number;
  smtpGreetingTimeoutMs: number;
  /** PEM bundle of extra CAs trusted for SMTP TLS (RELAIS_SMTP_CA_FILE). */
  smtpCaFile: string | undefined;
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${value}"`);
  return n;
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
  const dbFile = path.resolve(env.RELAIS_DB || './data/relais.sqlite');
  const publicUrl = (env.RELAIS_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(/\/+$/, '');
  return {
    port,
    host,
    dbFile,
    publicUrl,
    secret: env.RELAIS_SECRET || undefined,
    previousSecrets: (env.RELAIS_PREVIOUS_SECRETS || '').split(',').map((s) => s.trim()).filter(Boolean),
    production: env.NODE_ENV !== 'development' && env.NODE_ENV !== 'test',
    logLevel: env.LOG_LEVEL || 'info',
    cookieSecret: env.RELAIS_COOKIE_SECRET || undefined,
    adminEmail: env.RELAIS_ADMIN_EMAIL || undefined,
    adminPassword: env.RELAIS_ADMIN_PASSWORD || undefined,
    sessionIdleMinutes: intFrom(env.RELAIS_SESSION_IDLE_MINUTES, 30, 'RELAIS_SESSION_IDLE_MINUTES'),
    sessionAbsoluteHours: intFrom(env.RELAIS_SESSION_ABSOLUTE_HOURS, 8, 'RELAIS_SESSION_ABSOLUTE_HOURS'),
    passwordHashCost: passwordHashCostFrom(env),
    confirmationTtlHours: intFrom(env.RELAIS_CONFIRMATION_TTL_HOURS, 48, 'RELAIS_CONFIRMATION_TTL_HOURS'),
    smtpConnectTimeoutMs: intFrom(env.RELAIS_SMTP_CONNECT_TIMEOUT_MS, 10_000, 'RELAIS_SMTP_CONNECT_TIMEOUT_MS'),
    smtpGreetingTimeoutMs: intFrom(env.RELAIS_SMTP_GREETING_TIMEOUT_MS, 10_000, 'RELAIS_SMTP_GREETING_TIMEOUT_MS'),
    smtpCaFile: env.RELAIS_SMTP_CA_FILE || undefined,
  };
}
