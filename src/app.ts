import compress from '@fastify/compress';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createHash } from 'node:crypto';
import path from 'node:path';
import qs from 'node:querystring';
import { createAuditRepository, type AuditRepository } from './audit/repository.js';
import type { RelaisConfig } from './config.js';
import { loadSecretBox, type SecretBox } from './crypto/secret-box.js';
import { openDatabase, type DatabaseHandle } from './db/client.js';
import { healthRoutes } from './health/routes.js';
import { languageRoutes } from './i18n/routes.js';
import { createSmtpServerRepository, type SmtpServerRepository } from './smtp-servers/repository.js';
import { smtpServerExportRoutes } from './smtp-servers/export/routes.js';
import { smtpServerRoutes } from './smtp-servers/routes.js';
import { htmxDir, publicDir } from './web/assets.js';
import { registerErrorPages } from './web/errors.js';
import { renderPlugin } from './web/render.js';

export interface Repositories {
  smtpServers: SmtpServerRepository;
  audit: AuditRepository;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: RelaisConfig;
    database: DatabaseHandle;
    secrets: SecretBox;
    repositories: Repositories;
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
];

export interface BuildOptions {
  /** false silences the log (tests); a stream receives it (tests that read what was logged). */
  logger?: false;
  logStream?: NodeJS.WritableStream;
}

export async function buildApp(config: RelaisConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] =
    options.logger === false
      ? false
      : { level: config.logLevel, redact: { paths: logRedactPaths, censor: '[redacted]' }, ...(options.logStream ? { stream: options.logStream } : {}) };
  const app = Fastify({
    logger,
    bodyLimit,
    trustProxy: process.env.RELAIS_TRUST_PROXY === 'true',
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.decorate('config', config);

  const database = openDatabase(config.dbFile);
  app.decorate('database', database);
  app.addHook('onClose', async () => database.close());

  const { box, source, created } = loadSecretBox({ secret: config.secret, previousSecrets: config.previousSecrets, dbFile: config.dbFile });
  if (created) app.log.warn({ keyFile: source }, 'generated a new encryption key for SMTP passwords; keep this file safe and out of backups of the database');
  else app.log.info({ keySource: source === 'RELAIS_SECRET' ? source : 'file', keyFile: source === 'RELAIS_SECRET' ? undefined : source }, 'SMTP password key loaded');
  app.decorate('secrets', box);
  app.decorate('repositories', {
    smtpServers: createSmtpServerRepository(database.db, box),
    audit: createAuditRepository(database.db),
  });

  const secureCookies = config.publicUrl.startsWith('https://');
  const cookieSecret = config.cookieSecret ?? createHash('sha256').update(box.current.key).update('relais-cookie-signing').digest('hex');

  await app.register(helmet, {
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
  await app.register(compress, { threshold: 1024, encodings: ['br', 'gzip', 'deflate'] });
  await app.register(cookie, { secret: cookieSecret });
  await app.register(formbody, { parser: (body) => qs.parse(body) });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'relais_csrf',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', signed: true, secure: secureCookies },
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
    engine: { eta: new Eta({ views: viewsDir, cache: config.production }) },
    templates: viewsDir,
    production: config.production,
  });
  await app.register(renderPlugin);

  // Form bodies are parsed by preHandler time; every state-changing request must carry the token.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return done();
    if (request.routeOptions.config && (request.routeOptions.config as { csrf?: boolean }).csrf === false) return done();
    app.csrfProtection(request, reply, done);
  });

  registerErrorPages(app, bodyLimit);
  await app.register(healthRoutes);
  await app.register(languageRoutes);
  // Before the server routes, so /smtp-servers/export.csv can never be read as a server id.
  await app.register(smtpServerExportRoutes);
  await app.register(smtpServerRoutes);
  app.get('/', { config: { access: 'public' } }, async (_request, reply) => reply.redirect('/smtp-servers', 303));

  return app;
}
