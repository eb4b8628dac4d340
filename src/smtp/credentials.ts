import type { Authentication } from '../smtp-servers/validation.js';
import { TokenFailure, type OAuthCredentials, type OAuthTokens } from './oauth-tokens.js';

/** How Relais proves itself to a server, its secret revealed for this use only (never kept, logged or shown). */
export type SmtpCredentials =
  | { kind: 'none' }
  | { kind: 'password'; username: string; password: string }
  | { kind: 'oauth2'; username: string; oauth: OAuthCredentials };

/** What nodemailer's `auth` option takes: a password, or XOAUTH2 with a token and a callback for the next one. */
export type NodemailerAuth =
  | { user: string; pass: string }
  | {
      type: 'OAuth2';
      user: string;
      accessToken: string;
      expires: number;
      provisionCallback: (user: string, renew: boolean, callback: (err: Error | null, accessToken?: string, expires?: number) => void) => void;
    };

/** A server's credentials from its settings and its revealed secrets (the password, or the OAuth2 secret). */
export function credentialsOf(
  server: { authentication: Authentication | string; username: string; oauthTenant: string; oauthClientId: string },
  secrets: { password: string | null; oauthSecret: string | null },
): SmtpCredentials {
  if (server.authentication === 'password') return { kind: 'password', username: server.username, password: secrets.password ?? '' };
  if (server.authentication === 'oauth2-microsoft') {
    return { kind: 'oauth2', username: server.username, oauth: { provider: 'microsoft', tenant: server.oauthTenant, clientId: server.oauthClientId, clientSecret: secrets.oauthSecret ?? '' } };
  }
  if (server.authentication === 'oauth2-google') {
    return { kind: 'oauth2', username: server.username, oauth: { provider: 'google', serviceAccountKey: secrets.oauthSecret ?? '' } };
  }
  return { kind: 'none' };
}

/**
 * The nodemailer `auth` for a server — the one place the connection test's send, the confirmation and the outbox's
 * pooled transports get it from. For OAuth2 the first token is fetched now (a TokenFailure is thrown before any
 * connection); later connections of a pool ask the shared cache through the provisioning callback, which nodemailer
 * calls with `renew` when the server refused the token it had.
 */
export async function smtpAuthFor(credentials: SmtpCredentials, tokens: OAuthTokens): Promise<NodemailerAuth | undefined> {
  if (credentials.kind === 'none') return undefined;
  if (credentials.kind === 'password') return { user: credentials.username, pass: credentials.password };
  const { oauth, username } = credentials;
  const first = await tokens.token(oauth, username);
  return {
    type: 'OAuth2',
    user: username,
    accessToken: first.accessToken,
    expires: first.renewAt,
    provisionCallback: (_user, renew, callback) => {
      tokens.token(oauth, username, { refresh: renew }).then(
        (next) => callback(null, next.accessToken, next.renewAt),
        (err: unknown) => callback(err instanceof Error ? err : new TokenFailure({ provider: oauth.provider, endpoint: tokens.endpointOf(oauth), network: 'unknown' })),
      );
    },
  };
}

/** A server's refusal of a token: 535, from a direct reply or after the XOAUTH2 challenge. */
export function isTokenRefusal(err: unknown): boolean {
  const e = err as { code?: unknown; responseCode?: unknown };
  return e?.code === 'EAUTH' && e.responseCode === 535;
}

/**
 * Runs one send with the server's auth. When the server answers 535 to a token it had accepted before (one from the
 * cache), the token is fetched anew and the send tried once more; a token fresh from its endpoint is not retried.
 */
export async function withSmtpAuth<T>(credentials: SmtpCredentials, tokens: OAuthTokens, send: (auth: NodemailerAuth | undefined) => Promise<T>): Promise<T> {
  if (credentials.kind !== 'oauth2') return send(await smtpAuthFor(credentials, tokens));
  const cached = await tokens.token(credentials.oauth, credentials.username);
  try {
    return await send(await smtpAuthFor(credentials, tokens));
  } catch (err) {
    if (cached.fetched || !isTokenRefusal(err)) throw err;
    await tokens.token(credentials.oauth, credentials.username, { refresh: true });
    return send(await smtpAuthFor(credentials, tokens));
  }
}
