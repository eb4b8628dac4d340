import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { importPKCS8, SignJWT } from 'jose';
import * as oidc from 'openid-client';

export const microsoftScope = 'https://outlook.office365.com/.default';
export const googleScope = 'https://mail.google.com/';

/** Microsoft 365, client credentials (the app-only flow for SMTP): the tenant, the application and its secret. */
export interface MicrosoftCredentials {
  provider: 'microsoft';
  tenant: string;
  clientId: string;
  clientSecret: string;
}

/** Google Workspace: a service account with domain-wide delegation, its JSON key as downloaded. */
export interface GoogleCredentials {
  provider: 'google';
  serviceAccountKey: string;
}

export type OAuthCredentials = MicrosoftCredentials | GoogleCredentials;

/** The fields of a service account's JSON key that a token needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

/** A service account key as pasted: the parsed key, or why it is not one. */
export function parseServiceAccountKey(text: string): { ok: true; key: ServiceAccountKey } | { ok: false; reason: 'json' | 'fields' } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json' };
  }
  const key = value as Partial<ServiceAccountKey> & { type?: unknown };
  if (
    !key ||
    typeof key !== 'object' ||
    typeof key.client_email !== 'string' ||
    !key.client_email.includes('@') ||
    typeof key.private_key !== 'string' ||
    !key.private_key.includes('PRIVATE KEY')
  ) {
    return { ok: false, reason: 'fields' };
  }
  return { ok: true, key: { client_email: key.client_email, private_key: key.private_key, ...(typeof key.private_key_id === 'string' ? { private_key_id: key.private_key_id } : {}) } };
}

export interface OAuthSettings {
  /** RELAIS_OAUTH_MICROSOFT_AUTHORITY, without a trailing slash. */
  microsoftAuthority: string;
  /** RELAIS_OAUTH_GOOGLE_TOKEN_URL. */
  googleTokenUrl: string;
  timeoutMs: number;
  /** A cached token this close to its expiry is fetched again before use. */
  refreshMarginMs: number;
}

/** The token endpoint a server's credentials are sent to. */
export function tokenEndpointOf(credentials: OAuthCredentials, settings: OAuthSettings): string {
  if (credentials.provider === 'google') return settings.googleTokenUrl;
  return `${settings.microsoftAuthority}/${encodeURIComponent(credentials.tenant)}/oauth2/v2.0/token`;
}

/** What the token endpoint said when it refused, or why it could not be asked: never the secret, never a token. */
export interface TokenFailureFacts {
  provider: OAuthCredentials['provider'];
  endpoint: string;
  /** The OAuth error code (invalid_client, invalid_grant…), when the endpoint answered one. */
  error?: string;
  /** Microsoft's AADSTS code (« AADSTS7000215 »), read from its description. */
  aadsts?: string;
  /** The endpoint's own description, one line, bounded. */
  description?: string;
  status?: number;
  /** No answer: the network's error code or message. */
  network?: string;
}

export class TokenFailure extends Error {
  readonly code = 'EOAUTHTOKEN';
  constructor(readonly facts: TokenFailureFacts) {
    super(`token request to ${facts.endpoint} failed: ${facts.error ?? facts.network ?? facts.status ?? '?'}`);
  }
}

export interface AccessToken {
  accessToken: string;
  expiresAt: number;
  /** When the cache stops handing it out (shortly before it expires): a nodemailer pool asks again from then on. */
  renewAt: number;
  /** True when this call asked the endpoint; false when the token came from the cache. */
  fetched: boolean;
  endpoint: string;
  durationMs: number;
}

/** A cache key that names the credentials (hashed, never kept in clear), the mailbox and the endpoint. */
export function tokenCacheKey(credentials: OAuthCredentials, username: string, endpoint: string): string {
  const material =
    credentials.provider === 'microsoft'
      ? ['microsoft', credentials.tenant.toLowerCase(), credentials.clientId, credentials.clientSecret]
      : ['google', credentials.serviceAccountKey];
  return createHash('sha256').update([...material, username.toLowerCase(), endpoint].join('\u0000')).digest('hex');
}

function oneLine(text: unknown, max = 300): string | undefined {
  if (typeof text !== 'string' || !text) return undefined;
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function failureOf(err: unknown, provider: OAuthCredentials['provider'], endpoint: string): TokenFailure {
  if (err instanceof TokenFailure) return err;
  const e = err as { error?: unknown; error_description?: unknown; status?: unknown; code?: unknown; cause?: unknown; message?: unknown };
  if (err instanceof oidc.ResponseBodyError || typeof e.error === 'string') {
    const description = oneLine(e.error_description);
    const aadsts = /AADSTS\d+/.exec(typeof e.error_description === 'string' ? e.error_description : '')?.[0];
    return new TokenFailure({
      provider,
      endpoint,
      error: typeof e.error === 'string' ? e.error : undefined,
      ...(aadsts ? { aadsts } : {}),
      ...(description ? { description } : {}),
      ...(typeof e.status === 'number' ? { status: e.status } : {}),
    });
  }
  // fetch hides the socket's code (ECONNREFUSED, ENOTFOUND…) a cause or two down.
  let code: string | undefined;
  for (let cause: unknown = err, depth = 0; cause && depth < 4 && !code; cause = (cause as { cause?: unknown }).cause, depth++) {
    const c = (cause as { code?: unknown }).code;
    if (typeof c === 'string' && /^E[A-Z_]+$/.test(c)) code = c;
  }
  const timedOut = (err as { name?: unknown }).name === 'TimeoutError' || /timeout|aborted/i.test(String(e.message));
  const network = code ?? (timedOut ? 'ETIMEDOUT' : oneLine(e.message)) ?? 'unknown';
  const status = (e.cause as { status?: unknown } | undefined)?.status;
  return new TokenFailure({ provider, endpoint, network, ...(typeof status === 'number' ? { status } : {}) });
}

/**
 * Access tokens for XOAUTH2, asked for when first needed and kept in memory only, per set of credentials and
 * mailbox, until shortly before they expire. Concurrent needs share one request. Nothing about a token is logged.
 */
export class OAuthTokens {
  private readonly cache = new Map<string, { accessToken: string; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<{ accessToken: string; expiresAt: number }>>();
  /** How many requests reached a token endpoint (for the tests and nothing else). */
  requests = 0;

  constructor(private readonly settings: OAuthSettings) {}

  endpointOf(credentials: OAuthCredentials): string {
    return tokenEndpointOf(credentials, this.settings);
  }

  /** A valid token for this mailbox; `refresh` drops the cached one first (the server refused it). Throws TokenFailure. */
  async token(credentials: OAuthCredentials, username: string, options: { refresh?: boolean } = {}): Promise<AccessToken> {
    const endpoint = this.endpointOf(credentials);
    const key = tokenCacheKey(credentials, username, endpoint);
    const begin = performance.now();
    const cached = this.cache.get(key);
    if (options.refresh) this.cache.delete(key);
    else if (cached && cached.expiresAt - this.settings.refreshMarginMs > Date.now()) {
      return { ...cached, renewAt: cached.expiresAt - this.settings.refreshMarginMs, fetched: false, endpoint, durationMs: 0 };
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.request(credentials, username, endpoint).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const fresh = await pending;
    this.cache.set(key, fresh);
    return { ...fresh, renewAt: fresh.expiresAt - this.settings.refreshMarginMs, fetched: true, endpoint, durationMs: Math.round((performance.now() - begin) * 10) / 10 };
  }

  /** Forgets the cached token of these credentials (their server changed or was deleted). */
  forget(credentials: OAuthCredentials, username: string): void {
    this.cache.delete(tokenCacheKey(credentials, username, this.endpointOf(credentials)));
  }

  private async request(credentials: OAuthCredentials, username: string, endpoint: string): Promise<{ accessToken: string; expiresAt: number }> {
    this.requests++;
    try {
      const response = credentials.provider === 'microsoft' ? await this.microsoft(credentials, endpoint) : await this.google(credentials, username, endpoint);
      const lifetime = typeof response.expires_in === 'number' && response.expires_in > 0 ? response.expires_in : 3600;
      return { accessToken: response.access_token, expiresAt: Date.now() + lifetime * 1000 };
    } catch (err) {
      throw failureOf(err, credentials.provider, endpoint);
    }
  }

  private configuration(endpoint: string, clientId: string, auth: oidc.ClientAuth): oidc.Configuration {
    const config = new oidc.Configuration({ issuer: new URL(endpoint).origin, token_endpoint: endpoint }, clientId, undefined, auth);
    config.timeout = Math.max(1, Math.ceil(this.settings.timeoutMs / 1000));
    // A test or an internal authority may be plain http; the real ones are https.
    if (endpoint.startsWith('http:')) oidc.allowInsecureRequests(config);
    return config;
  }

  private async microsoft(credentials: MicrosoftCredentials, endpoint: string) {
    const config = this.configuration(endpoint, credentials.clientId, oidc.ClientSecretPost(credentials.clientSecret));
    return oidc.clientCredentialsGrant(config, { scope: microsoftScope });
  }

  /** The JWT bearer grant (RFC 7523) Google documents for service accounts, impersonating the mailbox. */
  private async google(credentials: GoogleCredentials, username: string, endpoint: string) {
    const parsed = parseServiceAccountKey(credentials.serviceAccountKey);
    if (!parsed.ok) throw new TokenFailure({ provider: 'google', endpoint, error: 'invalid_key' });
    const { key } = parsed;
    let signingKey: CryptoKey;
    try {
      signingKey = await importPKCS8(key.private_key, 'RS256');
    } catch {
      throw new TokenFailure({ provider: 'google', endpoint, error: 'invalid_key' });
    }
    const assertion = await new SignJWT({ scope: googleScope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) })
      .setIssuer(key.client_email)
      .setSubject(username)
      .setAudience(endpoint)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(signingKey);
    const config = this.configuration(endpoint, key.client_email, oidc.None());
    return oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion });
  }
}
