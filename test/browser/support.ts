/**
 * What the browser suite and `npm run screenshots` share: Debian's Chromium, the real app on a free port with a
 * fresh database, realistic data. No tap here, so scripts can import it without starting a test run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { validateServerForm } from '../../src/smtp-servers/validation.js';
import { testSecret, testSmtpEnv } from '../helper.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const failureDir = path.join(projectRoot, 'test-output', 'browser');

/** Debian's Chromium; never a downloaded browser. RELAIS_CHROMIUM points elsewhere (another distribution's path). */
export const chromiumPath = process.env.RELAIS_CHROMIUM || '/usr/bin/chromium';
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The first administrator of every app the suite starts (used once access control asks for a sign-in). */
export const admin = { email: 'admin@relais.test', password: 'Suite-navigateur-2024!' };

export function inCI(): boolean {
  const value = process.env.CI;
  return Boolean(value) && value !== 'false' && value !== '0';
}

function executableProblem(file: string, name: string, install: string): string | null {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return null;
  } catch {
    return `${name} not found at ${file} (${install})`;
  }
}

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumProblem(): string | null {
  return executableProblem(chromiumPath, 'Chromium', 'apt-get install chromium, or set RELAIS_CHROMIUM');
}

export const lynxPath = process.env.RELAIS_LYNX || '/usr/bin/lynx';
export function lynxProblem(): string | null {
  return executableProblem(lynxPath, 'lynx', 'apt-get install lynx, or set RELAIS_LYNX');
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}

/** French like the help page, a laptop-sized window; `javaScriptEnabled: false` is the no-JS browser. */
export function contextOptions(js: boolean, extra: BrowserContextOptions = {}): BrowserContextOptions {
  return { javaScriptEnabled: js, locale: 'fr-FR', viewport: { width: 1280, height: 800 }, ...extra };
}

export interface RunningRelais {
  app: FastifyInstance;
  baseUrl: string;
  url(pathname: string): string;
  close(): Promise<void>;
}

/**
 * The real app on 127.0.0.1 and a free port, with its own SQLite file in `dir`.
 * NODE_ENV is deliberately absent: the production configuration (cached templates), as deployed.
 */
export async function startRelais(dir: string, env: Record<string, string> = {}): Promise<RunningRelais> {
  fs.mkdirSync(dir, { recursive: true });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    RELAIS_DB: path.join(dir, 'relais.sqlite'),
    RELAIS_SECRET: testSecret,
    RELAIS_ADMIN_EMAIL: admin.email,
    RELAIS_ADMIN_PASSWORD: admin.password,
    RELAIS_HEALTH_CHECK_MINUTES: '0',
    RELAIS_ALERT_INTERVAL_SECONDS: '0',
    ...testSmtpEnv,
    ...env,
  });
  const app = await buildApp(config, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  // The port is only known now: links the app builds from its public URL must point here.
  if (!env.RELAIS_URL) app.config.publicUrl = baseUrl;
  return { app, baseUrl, url: (pathname) => new URL(pathname, baseUrl).href, close: () => app.close() };
}

/** Signs in through the login page when the app asks for it; a no-op while the app has no login. */
export async function signIn(page: Page, relais: RunningRelais, who = admin): Promise<void> {
  await page.goto(relais.url('/smtp-servers'));
  if (new URL(page.url()).pathname !== '/login') return;
  await page.locator('input[name="email"]').fill(who.email);
  await page.locator('input[name="password"]').fill(who.password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.locator('input[name="password"]').press('Enter')]);
}

/** Signs in through the login form over plain HTTP, as a text browser would; returns the cookies it ends with. */
export async function signInOverHttp(relais: RunningRelais, who = admin): Promise<Map<string, string>> {
  const jar = new Map<string, string>();
  const keep = (response: globalThis.Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970|max-age=0(;|$)/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  };
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const page = await fetch(relais.url('/login'), { redirect: 'manual' });
  keep(page);
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!token) throw new Error('the login page has no CSRF token');
  const response = await fetch(relais.url('/login'), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ _csrf: token, email: who.email, password: who.password }).toString(),
  });
  keep(response);
  if (response.status !== 303) throw new Error(`sign-in refused: ${response.status}`);
  return jar;
}

/** A Netscape cookie file (what lynx `-cookie_file` reads) with these cookies for the app's host. */
export function writeCookieFile(relais: RunningRelais, cookies: Map<string, string>, file: string): void {
  const host = new URL(relais.baseUrl).hostname;
  const expires = Math.round(Date.now() / 1000) + 3600;
  const lines = [...cookies].map(([name, value]) => [host, 'FALSE', '/', 'FALSE', expires, name, value].join('\t'));
  fs.writeFileSync(file, `# Netscape HTTP Cookie File\n${lines.join('\n')}\n`);
}

export function slug(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 120);
}

/** A screenshot and the HTML of the page as it was, in test-output/browser/, so a failure can be seen. */
export async function saveFailureArtifacts(page: Page, name: string): Promise<string[]> {
  fs.mkdirSync(failureDir, { recursive: true });
  const base = path.join(failureDir, slug(name));
  const saved: string[] = [];
  try {
    await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 10_000 });
    saved.push(`${base}.png`);
  } catch {
    // a crashed page has no screenshot; its HTML may still come
  }
  try {
    fs.writeFileSync(`${base}.html`, `<!-- ${page.url()} -->\n${await page.content()}`);
    saved.push(`${base}.html`);
  } catch {
    // nothing more to save
  }
  return saved;
}

export interface ServerSeed {
  title: string;
  host: string;
  port?: string;
  security?: 'none' | 'starttls' | 'tls';
  authentication?: 'none' | 'password';
  email: string;
  senderName: string;
  username?: string;
  password?: string;
  usage?: 'default' | 'custom';
  departments?: string[];
  verifyCertificate?: boolean;
  signature?: string;
}

/** Creates servers through the app's own validation and repository, as the form would (and as `actor` in the audit trail). */
export async function createServers(app: FastifyInstance, seeds: ServerSeed[], actor = { userId: null as number | null, name: 'browser suite', ip: null as string | null }) {
  const codes = (await app.repositories.smtpServers.listDepartments()).map((d) => d.code);
  const created = [];
  for (const seed of seeds) {
    const authentication = seed.authentication ?? 'password';
    const raw = {
      port: seed.security === 'tls' ? '465' : seed.security === 'none' ? '25' : '587',
      security: 'starttls',
      authentication,
      username: authentication === 'password' ? seed.email : '',
      password: authentication === 'password' ? 'Mot-de-passe-1!' : '',
      usage: seed.departments?.length ? 'custom' : 'default',
      departments: [],
      signature: '',
      // Seeds on a test peer's plain port with a password are unusual combinations, confirmed as the form asks.
      confirmCombination: 'on',
      ...seed,
      verifyCertificate: seed.verifyCertificate === false ? '' : 'on',
    };
    const result = validateServerForm(raw, { departmentCodes: codes, storedPassword: null });
    if (!result.ok) throw new Error(`invalid seed server ${seed.title}: ${JSON.stringify(result.errors)}`);
    created.push(await app.repositories.smtpServers.createServer(result.value, actor));
  }
  return created;
}

/** What a mid-sized company's list looks like. */
export const realisticServers: ServerSeed[] = [
  { title: 'Vente — Microsoft 365', host: 'smtp.office365.com', email: 'ventes@acme-industrie.fr', senderName: 'ACME Service commercial', departments: ['vente'] },
  { title: 'Achats — relais interne', host: 'relais.acme.lan', security: 'none', authentication: 'none', email: 'achats@acme-industrie.fr', senderName: 'ACME Achats', departments: ['achat'], verifyCertificate: false },
  { title: 'Production Lyon', host: 'mail.lyon.acme-industrie.fr', security: 'tls', email: 'production.lyon@acme-industrie.fr', senderName: 'Usine de Lyon', departments: ['production'] },
  { title: 'Envoi général', host: 'smtp-relay.gmail.com', email: 'noreply@acme-industrie.fr', senderName: 'ACME Industrie' },
  { title: 'Secours OVH', host: 'ssl0.ovh.net', security: 'tls', email: 'secours@acme-industrie.fr', senderName: 'ACME (secours)', departments: ['achat', 'vente', 'production'] },
  { title: 'Campagnes Brevo', host: 'smtp-relay.brevo.com', email: 'newsletter@acme-industrie.fr', senderName: 'La lettre ACME', departments: ['vente'] },
  { title: 'Facturation', host: 'smtp.mailgun.org', email: 'factures@acme-industrie.fr', senderName: 'ACME Comptabilité', departments: ['vente', 'achat'] },
  { title: 'Production Nantes', host: '10.20.0.25', security: 'none', authentication: 'none', email: 'production.nantes@acme-industrie.fr', senderName: 'Usine de Nantes', departments: ['production'] },
  { title: 'Support client', host: 'smtp.sendgrid.net', email: 'support@acme-industrie.fr', senderName: 'Support ACME', departments: ['vente'] },
  { title: 'Équipe qualité', host: 'smtp.office365.com', email: 'qualite@acme-industrie.fr', senderName: 'Qualité ACME', departments: ['production'] },
  { title: 'Fournisseurs Europe', host: 'email-smtp.eu-west-3.amazonaws.com', email: 'fournisseurs@acme-industrie.fr', senderName: 'ACME Achats Europe', departments: ['achat'] },
  { title: 'Relance impayés', host: 'smtp.mailjet.com', security: 'tls', email: 'relances@acme-industrie.fr', senderName: 'ACME Recouvrement', departments: ['vente'] },
];

/** `count` servers that differ the way real ones do (titles, hosts, addresses), for the page-weight budget. */
export function variedServers(count: number): ServerSeed[] {
  const cities = ['Lyon', 'Nantes', 'Lille', 'Rennes', 'Grenoble', 'Toulouse', 'Bordeaux', 'Strasbourg', 'Dijon', 'Brest', 'Metz', 'Tours'];
  const providers = ['smtp.office365.com', 'smtp-relay.gmail.com', 'ssl0.ovh.net', 'smtp.mailgun.org', 'smtp.sendgrid.net', 'smtp-relay.brevo.com'];
  const departments = [['vente'], ['achat'], ['production'], ['vente', 'achat'], []];
  return Array.from({ length: count }, (_, i) => {
    const city = cities[i % cities.length]!;
    const site = `${city.toLowerCase()}${i + 1}`;
    const local = ['ventes', 'achats', 'production', 'contact', 'noreply'][i % 5]!;
    return {
      title: `${city} ${['Ventes', 'Achats', 'Usine', 'Agence', 'Siège'][i % 5]} ${i + 1}`,
      host: i % 3 === 0 ? providers[i % providers.length]! : `mail.${site}.acme-industrie.fr`,
      security: (['starttls', 'tls', 'starttls', 'none'] as const)[i % 4],
      email: `${local}.${site}@acme-industrie.fr`,
      senderName: `ACME ${city} — ${local}`,
      departments: departments[i % departments.length],
    };
  });
}
