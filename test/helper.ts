import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { freshPostgres, postgresUnavailable } from './stores.js';

type Test = { testdir: () => string; teardown: (fn: () => unknown) => void };

export const testSecret = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** The tests' SMTP peers listen on 127.0.0.1, which Relais refuses by default: the suite allows it explicitly. */
export const testSmtpEnv = { RELAIS_SMTP_ALLOWED_NETWORKS: '127.0.0.0/8' };

/** The store the suite runs on: RELAIS_TEST_STORE=postgres (npm test's second run), else SQLite. */
export const testStore: 'sqlite' | 'postgres' = process.env.RELAIS_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** Options for a test about SQLite itself (its file, its pragmas): skipped, with the reason, in the PostgreSQL run. */
export function sqliteOnly(reason: string): { skip?: string } {
  return testStore === 'postgres' ? { skip: `SQLite only: ${reason}` } : {};
}

/** A RELAIS_DB of the test's own: a SQLite file in its folder, or this file's PostgreSQL database emptied to its migrated state. */
export async function testDatabase(t: Pick<Test, 'testdir'>): Promise<string> {
  const dir = t.testdir();
  if (testStore === 'sqlite') return path.join(dir, 'relais.sqlite');
  const unavailable = await postgresUnavailable();
  if (unavailable) throw new Error(`RELAIS_TEST_STORE=postgres: ${unavailable}`);
  return freshPostgres();
}

/** The tests' settings for a database file in `dir`, `env` on top. */
export function testConfig(dir: string, env: Record<string, string> = {}) {
  return loadConfig({
    NODE_ENV: 'test',
    RELAIS_DB: path.join(dir, 'relais.sqlite'),
    RELAIS_SECRET: testSecret,
    RELAIS_URL: 'http://relais.test',
    // Signing in at scrypt's real cost (N=2^17, ~0.4 s) would make every test slow; only tests may lower it.
    RELAIS_PASSWORD_HASH_COST: '10',
    // The apps of the suite never test their servers by themselves; test/health-checks*.test.ts turns it on.
    RELAIS_HEALTH_CHECK_MINUTES: '0',
    ...testSmtpEnv,
    // The alert pass stays off unless a test about alerts turns it on.
    RELAIS_ALERT_INTERVAL_SECONDS: '0',
    ...env,
  });
}

/** The real app on a real database of the test's own: a SQLite file in its folder, or PostgreSQL (RELAIS_TEST_STORE). */
export async function buildTestApp(t: Test, env: Record<string, string> = {}, options: BuildOptions = { logger: false }) {
  const config = testConfig(t.testdir(), { RELAIS_DB: await testDatabase(t), ...env });
  const app = await buildApp(config, options);
  t.teardown(() => app.close());
  return app;
}

export interface Response {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** A browser-like client over app.inject(): keeps cookies and sends the CSRF token the last page gave it. */
export class Client {
  readonly cookies = new Map<string, string>();
  csrfToken = '';
  /** The address the app sees (request.ip), for tests about throttling and the audit trail. */
  remoteAddress = '127.0.0.1';

  constructor(readonly app: FastifyInstance) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(res: { headers: Record<string, unknown>; body: string }) {
    const setCookie = res.headers['set-cookie'];
    const list: string[] = Array.isArray(setCookie) ? setCookie.map(String) : setCookie ? [String(setCookie)] : [];
    for (const line of list) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body) ?? /x-csrf-token&quot;:&quot;([^&]+)&quot;/.exec(res.body);
    if (token) this.csrfToken = token[1]!;
  }

  /** One request to the app: app.inject() here; HttpClient (test/http-client.ts) sends it over the network instead. */
  protected async request(method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: string | Buffer): Promise<Response> {
    const res = await this.app.inject({ method, url, remoteAddress: this.remoteAddress, headers, ...(payload === undefined ? {} : { payload }) });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.request('GET', url, { cookie: this.cookieHeader(), ...headers });
    this.remember(res);
    return res;
  }

  /** Posts a urlencoded form like a browser does; the CSRF token is added unless the fields say otherwise. */
  async post(url: string, fields: Record<string, string | string[]> = {}, headers: Record<string, string> = {}): Promise<Response> {
    if (!this.csrfToken) await this.get(this.cookies.has('relais_session') ? '/smtp-servers' : '/login');
    const form = new URLSearchParams();
    if (!('_csrf' in fields)) form.append('_csrf', this.csrfToken);
    for (const [key, value] of Object.entries(fields)) {
      for (const v of Array.isArray(value) ? value : [value]) form.append(key, v);
    }
    return this.send(url, 'application/x-www-form-urlencoded', form.toString(), headers);
  }

  /** Posts a urlencoded body written out by hand (a field twice, a bracketed name), after the CSRF token. */
  async postRaw(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.send(url, 'application/x-www-form-urlencoded', `_csrf=${encodeURIComponent(this.csrfToken)}&${body}`, headers);
  }

  /** Posts a JSON body as a script would, the CSRF token in its header. */
  async postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return this.send(url, 'application/json', JSON.stringify(body), { 'x-csrf-token': this.csrfToken, ...headers });
  }

  /**
   * Posts multipart/form-data as a browser does for a form with a file input: fields (a list repeats its name), then
   * files; a file input left empty can be sent as `{ filename: '', content: Buffer.alloc(0) }`.
   */
  async postMultipart(
    url: string,
    fields: Record<string, string | string[]> = {},
    files: Record<string, { filename: string; content: Buffer; type?: string }> = {},
    headers: Record<string, string> = {},
  ): Promise<Response> {
    if (!this.csrfToken) await this.get(this.cookies.has('relais_session') ? '/smtp-servers' : '/login');
    const boundary = '----RelaisTestBoundary7MA4YWxkTrZu0gW';
    const chunks: Buffer[] = [];
    const all: [string, string][] = '_csrf' in fields ? [] : [['_csrf', this.csrfToken]];
    for (const [key, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) all.push([key, v]);
    for (const [key, value] of all) chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`));
    for (const [key, file] of Object.entries(files)) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${key}"; filename="${file.filename}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`));
      chunks.push(file.content, Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return this.send(url, `multipart/form-data; boundary=${boundary}`, Buffer.concat(chunks), headers);
  }

  private async send(url: string, type: string, payload: string | Buffer, headers: Record<string, string>): Promise<Response> {
    const res = await this.request('POST', url, { 'content-type': type, cookie: this.cookieHeader(), ...headers }, payload);
    this.remember(res);
    return res;
  }
}

export const testPassword = 'Relais test passphrase 4 tests';

const accountsMade = new WeakMap<FastifyInstance, number>();

/** Creates an account straight through the repository (a new one each call: admin1@relais.test, viewer2@relais.test…). */
export async function createAccount(app: FastifyInstance, role: 'admin' | 'viewer', fields: { email?: string; displayName?: string; password?: string } = {}) {
  const n = (accountsMade.get(app) ?? 0) + 1;
  accountsMade.set(app, n);
  const { systemActor } = await import('../src/audit/repository.js');
  return app.repositories.users.createUser(
    {
      email: fields.email ?? `${role}${n}@relais.test`,
      displayName: fields.displayName ?? `${role === 'admin' ? 'Admin' : 'Lecteur'} ${n}`,
      role,
      password: fields.password ?? testPassword,
    },
    systemActor,
  );
}

/** The audit trail as the audit page reads it, oldest first; only one action's entries when given. */
export async function auditTrail(app: FastifyInstance, action?: string) {
  return (await app.repositories.audit.list({ action, perPage: 10_000 })).rows.reverse();
}

/** Signs in through the login form like a browser, then loads a page to pick up the new session's CSRF token. */
export async function signIn(client: Client, email: string, password = testPassword): Promise<Response> {
  await client.get('/login');
  const res = await client.post('/login', { email, password });
  if (res.statusCode !== 303) throw new Error(`sign-in of ${email} failed with ${res.statusCode}`);
  await client.get('/smtp-servers');
  return res;
}

/** A client signed in as a new administrator: allowed to do everything. */
export async function adminClient(app: FastifyInstance): Promise<Client> {
  const user = await createAccount(app, 'admin');
  const client = new Client(app);
  await signIn(client, user.email);
  return client;
}

/** A client signed in as a new read-only user. */
export async function viewerClient(app: FastifyInstance): Promise<Client> {
  const user = await createAccount(app, 'viewer');
  const client = new Client(app);
  await signIn(client, user.email);
  return client;
}

export const validServer = {
  title: 'Vente principale',
  host: 'smtp.exemple.fr',
  port: '587',
  security: 'starttls',
  authentication: 'password',
  email: 'ventes@exemple.fr',
  senderName: 'Service Vente',
  username: 'ventes@exemple.fr',
  password: 'S3cret-Passw0rd!',
  usage: 'custom',
  departments: ['vente'],
  verifyCertificate: 'on',
  signature: '<p>Cordialement,<br>L’équipe Vente</p>',
};

/** Creates servers straight through the repository, for tests about the list rather than the form. */
export async function seedServers(app: FastifyInstance, count: number, make: (i: number) => Partial<typeof validServer> = () => ({})) {
  const { validateServerForm } = await import('../src/smtp-servers/validation.js');
  const created = [];
  for (let i = 1; i <= count; i++) {
    // Seeds may use any port: an unusual combination is confirmed, as the form would ask.
    const raw = { ...validServer, title: `Serveur ${String(i).padStart(3, '0')}`, confirmCombination: 'on', ...make(i) };
    const result = validateServerForm(raw, { departmentCodes: ['achat', 'vente', 'production'], storedPassword: null });
    if (!result.ok) throw new Error(`invalid seed server: ${JSON.stringify(result.errors)}`);
    created.push(await app.repositories.smtpServers.createServer(result.value, { userId: null, name: 'test', ip: null }));
  }
  return created;
}

export function text(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;|&#34;/g, '"').replace(/&amp;|&#38;/g, '&').replace(/\s+/g, ' ');
}
