import compress from '@fastify/compress';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createHash } from 'node:crypto';
import path from 'node:path';
import qs from 'node:querystring';
import { apiPlugin } from './api/plugin.js';
import { apiTokenRoutes } from './api-tokens/routes.js';
import { createApiTokenService, type ApiTokenService } from './api-tokens/service.js';
import { createAuditRepository, type AuditRepository } from './audit/repository.js';
import { auditRoutes } from './audit/routes.js';
import { accessControl, isStaticUrl } from './auth/enforce.js';
import { createPasswordHasher } from './auth/password.js';
import { authRoutes } from './auth/routes.js';
import { createSessionRepository, type SessionRepository } from './auth/sessions.js';
import { prepareFirstStart } from './auth/setup.js';
import { createLoginThrottle, throttlePolicyFrom, type LoginThrottle } from './auth/throttle.js';
import { createUserRepository, type UserRepository } from './auth/users.js';
import type { RelaisConfig, TrustProxy } from './config.js';
import { createConfirmationRepository, type ConfirmationRepository } from './confirmation/repository.js';
import { confirmationRoutes } from './confirmation/routes.js';
import { loadSecretBox, type SecretBox } from './crypto/secret-box.js';
import { countSecretsByKey } from './crypto/stored-secrets.js';
import type { DatabaseHandle } from './db/sqlite/client.js';
import { openStores } from './db/open.js';
import type { Stores } from './db/stores.js';
import { departmentRoutes } from './departments/routes.js';
import { createDepartmentRepository, type DepartmentRepository } from './departments/service.js';
import { healthRoutes } from './health/routes.js';
import { languageRoutes } from './i18n/routes.js';
import { createSmtpServerRepository, fillMissingSortKeys, type SmtpServerRepository } from './smtp-servers/repository.js';
import { smtpServerExportRoutes } from './smtp-servers/export/routes.js';
import { smtpServerRoutes } from './smtp-servers/routes.js';
import { createLogoRepository, type LogoRepository } from './signature/repository.js';
import { signatureRoutes } from './signature/routes.js';
import { userRoutes } from './users/routes.js';
import { sendingAlertsPlugin } from './send-log/alerts.js';
import { sendLogExportRoutes } from './send-log/export.js';
import { sendLogRoutes } from './send-log/routes.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { testEmailRoutes } from './test-email/routes.js';
import { createOutboxService, type OutboxService } from './outbox/service.js';
import { isApiUrl, routeAccess, type Access } from './web/access.js';
import { oauthSettingsFrom, smtpSettingsFrom, type SmtpSettings } from './smtp/endpoint.js';
import { OAuthTokens } from './smtp/oauth-tokens.js';
import { createSendingThread } from './outbox/sender.js';
import { createOutboxWorker } from './outbox/worker.js';
import { createHealthCheckScheduler } from './health-checks/scheduler.js';
import { alertRoutes } from './alerts/routes.js';
import { createAlerts, type Alerts } from './alerts/service.js';
import { metricsRoutes } from './metrics/routes.js';
import { useDisplayTimeZone } from './i18n/index.js';
import { createConnectionTestRepository, type ConnectionTestRepository } from './smtp-probe/repository.js';
import { connectionTestRoutes } from './smtp-probe/routes.js';
import { htmxDir, publicDir } from './web/assets.js';
import { registerErrorPages } from './web/errors.js';
import { clientErrorHandlerOf, frameworkErrorsOf } from './web/framework-errors.js';
import { formBodyPlugin } from './web/form-body.js';
import { requestLogFields } from './web/request-log.js';
import { brotliOptions, compressionEncodings, compressionThreshold } from './web/compress-html.js';
import { securityHeaders } from './web/security-headers.js';
import { csrfCookie } from './web/cookies.js';
import { csrfUserInfo, renderPlugin } from './web/render.js';
import { createViewEngine } from './web/view-engine.js';

export interface Repositories {
  smtpServers: SmtpServerRepository;
  audit: AuditRepository;
  users: UserRepository;
  sessions: SessionRepository;
  loginThrottle: LoginThrottle;
  confirmations: ConfirmationRepository;
  connectionTests: ConnectionTestRepository;
  departments: DepartmentRepository;
  logos: LogoRepository;
  apiTokens: ApiTokenService;
}

/** One registered route and who may use it, as the access check will see it. */
export interface RegisteredRoute {
  method: string;
  url: string;
  access: Access;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: RelaisConfig;
    /** The SQLite file's handle, for tests and tools about SQLite itself; not set on PostgreSQL. */
    database: DatabaseHandle;
    /** Everything Relais keeps, on SQLite or PostgreSQL (src/db/stores.ts). */
    stores: Stores;
    secrets: SecretBox;
    repositories: Repositories;
    /** Every route with its access, recorded as it is registered (the access test walks this list). */
    registeredRoutes: RegisteredRoute[];
    /** How Relais reaches SMTP servers (time-outs, extra CAs), read once from the config. */
    smtpSettings: SmtpSettings;
    /** The sending outbox (src/outbox/): accept, find, list, retry, cancel. */
    outbox: OutboxService;
    /** OAuth2 access tokens, in memory only: shared by the connection test, the confirmation and the outbox. */
    oauthTokens: OAuthTokens;
    /** The alert pass (src/alerts/): scheduled every RELAIS_ALERT_INTERVAL_SECONDS, stopped at close. */
    alerts: Alerts;
  }
}

export const bodyLimit = 256 * 1024;
const viewsDir = path.resolve(publicDir, '..', 'views');

/** Never let a password, a cookie or a CSRF token reach the log. */
export const logRedactPaths = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'password',
  '*.password',
  'body.password',
  'req.body.password',
  ...['oauthClientSecret', 'oauthServiceAccountKey', 'accessToken', 'access_token', 'clientSecret', 'serviceAccountKey'].flatMap((name) => [name, `*.${name}`, `body.${name}`, `req.body.${name}`]),
];

/**
 * Fastify 5 refuses a bare hop count (it cannot check the peer); Relais takes it as "trust that many proxies in front
 * of me", as proxy-addr does: the client address is the one the nearest `hops` proxies saw.
 */
function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust;
  if (trust === 0) return false;
  return (_address, hop) => hop < trust;
}

export interface BuildOptions {
  /** false silences the log (tests); a stream receives it (tests that read what was logged). */
  logger?: false;
  logStream?: NodeJS.WritableStream;
}

export async function buildApp(config: RelaisConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] =
    options.logger === false
      ? false
      : {
          level: config.logLevel,
          redact: { paths: logRedactPaths, censor: '[redacted]' },
          serializers: { req: requestLogFields },
          ...(options.logStream ? { stream: options.logStream } : {}),
        };
  const app = Fastify({
    logger,
    bodyLimit,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkErrorsOf(config.publicUrl),
    clientErrorHandler: clientErrorHandlerOf(config.publicUrl),
  });
  app.decorate('config', config);
  if (config.trustProxy === true) {
    app.log.warn('RELAIS_TRUST_PROXY=true trusts every X-Forwarded-For address, which clients can write: give the hop count (1) or the proxy addresses instead');
  }
  // Before the database opens: a bad RELAIS_SMTP_CA_FILE stops the start with nothing left open.
  const smtpSettings = smtpSettingsFrom(config);
  useDisplayTimeZone(config.timeZone);

  // Static files are public by nature; every other route declares its access or is for administrators.
  const registeredRoutes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', registeredRoutes);
  app.addHook('onRoute', (route) => {
    if (isStaticUrl(route.url)) route.config = { ...route.config, access: 'public' };
    const access = routeAccess(route.config);
    for (const method of [route.method].flat()) registeredRoutes.push({ method, url: route.url, access });
  });

  // Before the database opens: without its key (RELAIS_SECRET on PostgreSQL) the start stops with nothing left open.
  const { box, source, created } = loadSecretBox({ secret: config.secret, previousSecrets: config.previousSecrets, dbFile: config.dbFile });
  const opened = await openStores(config.database);
  const { stores } = opened;
  app.decorate('stores', stores);
  app.addHook('onClose', async () => stores.close());
  // The SQLite handle stays reachable for the tests and tools about SQLite itself; nothing in the app uses it.
  if (opened.sqlite) app.decorate('database', opened.sqlite);

  if (created) app.log.warn({ keyFile: source }, 'generated a new encryption key for SMTP passwords; keep this file safe and out of backups of the database');
  else app.log.info({ keySource: source === 'RELAIS_SECRET' ? source : 'file', keyFile: source === 'RELAIS_SECRET' ? undefined : source }, 'SMTP password key loaded');
  app.decorate('secrets', box);
  await fillMissingSortKeys(stores);
  const census = await countSecretsByKey(stores, box);
  if (census.underOldKey === 0) app.log.info({ keyId: box.current.id, underOldKey: 0 }, 'every stored secret is under the current key');
  else {
    app.log.warn(
      { keyId: box.current.id, ...census },
      `${census.underOldKey} stored secret(s) under a key that is not the current one, ${census.undecryptable} of them decryptable by no configured key; run npm run secrets:rotate`,
    );
  }
  // The outbox's sending thread, one pooled transport per server in it; an edit or a deletion closes that server's.
  const sender = createSendingThread(smtpSettings, { connections: config.outbox.poolConnections, sendTimeoutMs: config.outbox.sendTimeoutMs, log: app.log });
  // The accept keeps a department for as long as the worker keeps its route; a change made here drops it at once.
  const outbox = createOutboxService(stores, { messageIdDomain: new URL(config.publicUrl).hostname, departmentCacheMs: config.outbox.routeCacheMs });
  app.decorate('repositories', {
    smtpServers: createSmtpServerRepository(stores, box, {
      serverChanged: (id) => {
        sender.forget(id);
        worker?.forgetServer(id);
      },
    }),
    audit: createAuditRepository(stores),
    users: createUserRepository(
      stores,
      createPasswordHasher(config.passwordHashCost, { concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue, reserved: config.passwordHashReserved }),
    ),
    sessions: createSessionRepository(stores, {
      idleMs: config.sessionIdleMinutes * 60_000,
      absoluteMs: config.sessionAbsoluteHours * 3_600_000,
    }),
    loginThrottle: createLoginThrottle(stores, throttlePolicyFrom(config.loginThrottle)),
    confirmations: createConfirmationRepository(stores),
    connectionTests: createConnectionTestRepository(stores),
    departments: createDepartmentRepository(stores, {
      departmentChanged: () => {
        outbox.forgetDepartments();
        worker?.forgetRoutes();
      },
    }),
    logos: createLogoRepository(stores),
    apiTokens: createApiTokenService(stores, { requestsPerMinute: config.apiRateLimitPerMinute }),
  });
  app.decorate('smtpSettings', smtpSettings);
  app.decorate('oauthTokens', new OAuthTokens(oauthSettingsFrom(config)));
  app.decorate('outbox', outbox);
  const worker = config.outbox.worker ? createOutboxWorker({ stores, secrets: box, settings: config.outbox, sender, tokens: app.oauthTokens, log: app.log }) : null;
  if (worker) {
    outbox.onAccepted(() => worker.wake());
    outbox.takeAtAcceptance(worker.take);
    // Before the database closes: stop claiming, let messages in flight finish within most of the grace, give the rest back.
    app.addHook('preClose', async () => worker.stop(Math.floor(config.shutdownGraceMs * 0.8)));
  }
  app.addHook('preClose', async () => sender.close());
  const healthChecks =
    config.healthCheckIntervalMs > 0
      ? createHealthCheckScheduler({
          stores,
          servers: app.repositories.smtpServers,
          smtpSettings,
          tokens: app.oauthTokens,
          intervalMs: config.healthCheckIntervalMs,
          downForMs: config.outbox.downForMs,
          log: app.log,
        })
      : null;
  // Before the database closes: no new check, and the one under way finishes and writes its result.
  if (healthChecks) app.addHook('preClose', async () => healthChecks.stop());
  const alerts = createAlerts({ stores, secrets: box, settings: config.alerts, smtp: smtpSettings, tokens: app.oauthTokens, publicUrl: config.publicUrl, log: app.log });
  app.decorate('alerts', alerts);
  // Before the database closes: no new pass, and the one in flight (a mail being sent) finishes.
  app.addHook('preClose', async () => alerts.stop());

  const firstStart = await prepareFirstStart(stores, app.repositories.users, config).catch(async (err: unknown) => {
    await stores.close();
    throw err;
  });
  if (firstStart.kind === 'adminCreated') app.log.info({ email: firstStart.email }, 'first administrator created from RELAIS_ADMIN_EMAIL');
  if (firstStart.kind === 'setupLink') {
    app.log.warn({ setupUrl: firstStart.url }, `no account exists yet: open ${firstStart.url} to create the first administrator (the link works once)`);
  }

  const secureCookies = config.publicUrl.startsWith('https://');
  const cookieSecret = config.cookieSecret ?? createHash('sha256').update(box.current.key).update('relais-cookie-signing').digest('hex');

  await app.register(securityHeaders, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        upgradeInsecureRequests: secureCookies ? [] : null,
      },
    },
    hsts: secureCookies,
  });
  await app.register(compress, { threshold: compressionThreshold, encodings: compressionEncodings, brotliOptions });
  await app.register(cookie, { secret: cookieSecret });
  await app.register(formbody, { parser: (body) => qs.parse(body) });
  await app.register(formBodyPlugin, { bodyLimit });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: csrfCookie(config.publicUrl).name,
    cookieOpts: { ...csrfCookie(config.publicUrl).options, signed: true },
    getUserInfo: csrfUserInfo,
    csrfOpts: { hmacKey: cookieSecret },
  });
  await app.register(fastifyStatic, { root: publicDir, prefix: '/public/', cacheControl: false, index: false });
  await app.register(fastifyStatic, {
    root: htmxDir,
    prefix: '/vendor/',
    decorateReply: false,
    cacheControl: false,
    allowedPath: (pathName) => pathName === '/htmx.min.js',
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/public/') || request.url.startsWith('/vendor/')) {
      const versioned = request.url.includes('?v=');
      reply.header('Cache-Control', versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=0, must-revalidate');
    }
  });

  await app.register(view, {
    engine: { eta: createViewEngine({ views: viewsDir, cache: config.production, rmWhitespace: true }) },
    templates: viewsDir,
    production: config.production,
  });
  await app.register(renderPlugin);
  await app.register(accessControl);
  await app.register(sendingAlertsPlugin);

  // Form bodies are parsed by preHandler time; every state-changing request must carry the token.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return done();
    if (request.routeOptions.config && (request.routeOptions.config as { csrf?: boolean }).csrf === false) return done();
    // An API token is sent on purpose by its holder, never by a browser on its own: there is nothing to forge.
    if (routeAccess(request.routeOptions.config) === 'token' || (request.is404 && isApiUrl(request.url))) return done();
    app.csrfProtection(request, reply, done);
  });

  registerErrorPages(app, bodyLimit);
  await app.register(healthRoutes);
  await app.register(languageRoutes);
  // Before the server routes, so /smtp-servers/export.csv can never be read as a server id.
  await app.register(smtpServerExportRoutes);
  await app.register(smtpServerRoutes);
  await app.register(departmentRoutes);
  await app.register(signatureRoutes);
  await app.register(authRoutes);
  await app.register(userRoutes);
  await app.register(auditRoutes);
  await app.register(connectionTestRoutes);
  await app.register(confirmationRoutes);
  await app.register(apiTokenRoutes);
  await app.register(apiPlugin);
  await app.register(sendLogExportRoutes);
  await app.register(sendLogRoutes);
  await app.register(dashboardRoutes);
  await app.register(testEmailRoutes);
  await app.register(alertRoutes);
  await app.register(metricsRoutes);
  app.get('/', { config: { access: 'public' } }, async (_request, reply) => reply.redirect('/smtp-servers', 303));

  // Last: everything it needs is open, and a start that failed earlier left no worker running.
  worker?.start();
  healthChecks?.start();
  alerts.start();
  return app;
}
