// A token endpoint answering like Microsoft's and Google's and an SMTP peer speaking only XOAUTH2: shared by the
// OAuth2 tests of the connection test, the confirmation and the outbox.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Test } from 'tap';

export const clientSecret = 'Cl1ent~Secret.Value-Never-Shown';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
export const serviceAccountKey = JSON.stringify({
  type: 'service_account',
  project_id: 'relais-test',
  private_key_id: 'k1',
  private_key: privatePem,
  client_email: 'relais@relais-test.iam.gserviceaccount.com',
  client_id: '1234567890',
});
export const privateKeyBody = privatePem.split('\n')[1]!;
export const mailbox = 'ventes@exemple.fr';

/**
 * A token endpoint answering like Microsoft's (`/<tenant>/oauth2/v2.0/token`, client credentials) and Google's
 * (`/google/token`, JWT bearer), the error bodies included. Tokens it issues are valid at the SMTP peer until revoked.
 */
export async function startTokenEndpoint(t: Test) {
  const state = { issued: [] as string[], valid: new Set<string>(), requests: 0, expiresIn: 3599, bodies: [] as string[] };
  const microsoftError = (res: http.ServerResponse, status: number, error: string, code: number, words: string) => {
    res.statusCode = status;
    res.end(JSON.stringify({ error, error_description: `AADSTS${code}: ${words}\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2026-01-01 00:00:00Z`, error_codes: [code] }));
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      state.requests++;
      state.bodies.push(body);
      const form = new URLSearchParams(body);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      const issue = () => {
        const token = `token-${state.issued.length + 1}`;
        state.issued.push(token);
        state.valid.add(token);
        res.end(JSON.stringify({ token_type: 'Bearer', expires_in: state.expiresIn, ext_expires_in: state.expiresIn, access_token: token }));
      };
      if (req.url === '/google/token') {
        const assertion = form.get('assertion') ?? '';
        const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}') as { sub?: string; scope?: string };
        if (claims.sub === 'nodelegation@exemple.fr') {
          res.statusCode = 401;
          return res.end(JSON.stringify({ error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.' }));
        }
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || claims.scope !== 'https://mail.google.com/') {
          res.statusCode = 400;
          return res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid grant' }));
        }
        return issue();
      }
      const tenant = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.url ?? '')?.[1];
      if (tenant === 'wrong-tenant.example') return microsoftError(res, 400, 'invalid_request', 90002, "Tenant 'wrong-tenant.example' not found.");
      if (form.get('client_id') === 'no-consent') return microsoftError(res, 400, 'invalid_grant', 65001, 'The user or administrator has not consented to use the application.');
      if (form.get('client_id') === 'unknown-app') return microsoftError(res, 400, 'unauthorized_client', 700016, "Application with identifier 'unknown-app' was not found in the directory.");
      if (form.get('client_secret') === 'expired-secret') return microsoftError(res, 401, 'invalid_client', 7000222, 'The provided client secret keys for app are expired.');
      if (form.get('client_secret') !== clientSecret) return microsoftError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      if (form.get('scope') !== 'https://outlook.office365.com/.default' || form.get('grant_type') !== 'client_credentials') {
        return microsoftError(res, 400, 'invalid_scope', 70011, 'The provided value for scope is not valid.');
      }
      return issue();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { ...state, state, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

export type TokenEndpoint = Awaited<ReturnType<typeof startTokenEndpoint>>;

/** smtp-server speaking only XOAUTH2 and checking the bearer token against the endpoint's valid tokens. */
export async function startXoauthPeer(t: Test, endpoint: TokenEndpoint) {
  const peer = { messages: [] as ParsedMail[], seen: [] as string[], errors: [] as Error[] };
  const server = new SMTPServer({
    logger: false,
    authMethods: ['XOAUTH2'],
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, callback) {
      peer.seen.push(auth.accessToken ?? '');
      if (auth.username === 'noauth@exemple.fr') return callback(Object.assign(new Error('5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.'), { responseCode: 535 }));
      if (auth.username === 'nopermission@exemple.fr') return callback(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
      if (endpoint.state.valid.has(auth.accessToken ?? '')) return callback(null, { user: auth.username });
      // As Gmail does: a 334 with the error in JSON, then 535 once the client answers.
      return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        peer.messages.push(mail);
        callback();
      }, callback);
    },
  });
  server.on('error', (err) => peer.errors.push(err));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  /** Drops every open session: the clients' next message needs a new connection, and a new AUTH. */
  const closeConnections = () => {
    for (const connection of (server as unknown as { connections: Set<{ close(): void }> }).connections) connection.close();
  };
  return { ...peer, peer, closeConnections, port: (server.server.address() as net.AddressInfo).port };
}
