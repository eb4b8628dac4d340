import swagger from '@fastify/swagger';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiCaller } from '../api-tokens/service.js';
import { StoreUnavailableError, storeWriteErrorOf } from '../db/failures.js';
import { apiPrefix } from '../web/access.js';
import { apiDocsRoutes } from './docs-routes.js';
import { JsonBodyError, parseJsonBody } from './json-body.js';
import { messageRoutes } from './messages-routes.js';
import { ApiProblem, problemOf, sendProblem } from './problem.js';
import { problemSchema } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The OpenAPI 3.1 document of the API, built from its routes' schemas. */
    apiDescription(): Record<string, unknown>;
  }
  interface FastifyRequest {
    /** The API token the request came with, once checked; null outside the API. */
    apiCaller: ApiCaller | null;
  }
}

/** 10 MB of attachments in base64 (4/3) with the rest of the message around them. */
export const apiBodyLimit = 15 * 1024 * 1024;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function ajvWith(options: AjvOptions): Ajv {
  // No removeAdditional (Fastify's default): an unknown field is refused, not dropped; no coercion: ["a"] is no string.
  return addFormats(new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, strict: false, ...options }));
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/attachments/0/filename` → `attachments[0].filename`. */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function validationProblem(error: AjvError, part: string | undefined): { field: string; reason: string } {
  const at = fieldPath(error.instancePath);
  const join = (name: string) => (at ? `${at}.${name}` : name);
  if (error.keyword === 'required') return { field: join(String(error.params.missingProperty)), reason: 'is required' };
  if (error.keyword === 'additionalProperties') return { field: join(String(error.params.additionalProperty)), reason: 'is not a known field' };
  const field = at || (part === 'body' ? 'body' : part ?? 'request');
  if (error.keyword === 'type') {
    const types = [String(error.params.type)].flatMap((t) => t.split(','));
    const words = types.map((t) => (t === 'array' ? (at.startsWith('attachments') ? 'an array of objects' : 'an array of strings') : t === 'object' ? 'an object' : t === 'integer' ? 'an integer' : `a ${t}`));
    return { field, reason: `must be ${words.join(' or ')}` };
  }
  return { field, reason: error.message ?? 'is invalid' };
}

/** The methods the API's routes answer at this path (`/api/v1/messages/abc` matches `/api/v1/messages/:id`). */
function methodsAt(routes: readonly { method: string; url: string }[], path: string): string[] {
  const bare = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const matching = routes.filter(({ url }) => {
    if (!url.startsWith(`${apiPrefix}/`)) return false;
    const pattern = url.replace(/\/+$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+');
    return new RegExp(`^${pattern}$`).test(bare);
  });
  return [...new Set(matching.map(({ method }) => method))].sort();
}

/**
 * The sending API under /api: its own token check (no session, no CSRF), JSON bodies only with their own limit,
 * schemas that refuse unknown fields and feed the OpenAPI document, and every error as application/problem+json.
 */
export const apiPlugin = fp(async function apiPlugin(app: FastifyInstance) {
  const tokens = app.repositories.apiTokens;
  const baseUrl = app.config.publicUrl;
  app.decorateRequest('apiCaller', null);
  let describe: () => Record<string, unknown> = () => ({});

  await app.register(
    async (api) => {
      await api.register(swagger, {
        openapi: {
          openapi: '3.1.0',
          info: {
            title: 'Relais',
            version: '1',
            description: 'Hand messages to Relais for a department; it picks the department’s server, sends, fails over and retries.',
          },
          servers: [{ url: baseUrl }],
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (relais_…) created on /api-tokens.' } } },
          security: [{ bearer: [] }],
        },
        refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
      });
      api.addSchema(problemSchema);

      const bodies = ajvWith({ coerceTypes: false });
      const parameters = ajvWith({ coerceTypes: true });
      api.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : parameters).compile(schema));

      api.removeAllContentTypeParsers();
      api.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: apiBodyLimit }, (request, body: Buffer, done) => {
        const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
        if (charset !== undefined && !/^utf-?8$/i.test(charset)) return done(new ApiProblem('unsupported-media-type', 415, `send the body as application/json in UTF-8, not ${charset}`));
        try {
          done(null, parseJsonBody(body));
        } catch (err) {
          done(err as Error);
        }
      });

      api.addHook('onRequest', async (request, reply) => {
        reply.header('Cache-Control', 'no-store');
        // %00 decodes to a character no store keeps (PostgreSQL refuses it in text); the pages read it as a space.
        if (/%00/i.test(request.url)) throw new ApiProblem('invalid-request', 400, 'the URL holds a NUL character (%00)', { field: 'url', reason: 'holds a NUL character (%00)' });
        if (request.is404 || request.routeOptions.config.access !== 'token') return;
        const header = request.headers.authorization;
        const bearer = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
        const caller = bearer ? await tokens.authenticate(bearer) : null;
        if (!caller) {
          reply.header('WWW-Authenticate', header ? 'Bearer realm="relais", error="invalid_token"' : 'Bearer realm="relais"');
          throw new ApiProblem('unauthorized', 401, header ? 'the token is unknown or revoked' : 'send an API token: Authorization: Bearer relais_…');
        }
        const verdict = await tokens.reserveRequest(caller.id);
        if (!verdict.allowed) {
          reply.header('Retry-After', String(verdict.retryAfterSeconds));
          throw new ApiProblem('rate-limited', 429, `this token made more than ${app.config.apiRateLimitPerMinute} requests this minute; retry in ${verdict.retryAfterSeconds} s`);
        }
        request.apiCaller = caller;
      });

      api.setNotFoundHandler(async (request, reply) => {
        const path = request.url.split('?')[0]!;
        const allowed = methodsAt(app.registeredRoutes, path);
        if (allowed.length === 0) return sendProblem(reply, problemOf(baseUrl, 'not-found', 404, `no API route ${request.method} ${path}`));
        reply.header('Allow', allowed.join(', '));
        if (request.method === 'OPTIONS') return reply.code(204).send();
        return sendProblem(reply, problemOf(baseUrl, 'method-not-allowed', 405, `${path} answers ${allowed.join(', ')}, not ${request.method}`));
      });

      api.setErrorHandler(async (error: FastifyError, request, reply) => {
        const send = (...args: Parameters<typeof problemOf> extends [string, ...infer R] ? R : never) => sendProblem(reply, problemOf(baseUrl, ...args));
        if (error instanceof ApiProblem) return send(error.kind, error.status, error.message, error.extra);
        if (error instanceof JsonBodyError) {
          const { field, reason } = error;
          switch (error.kind) {
            case 'not-json':
              return send('malformed-json', 400, 'the body is not valid JSON', { field, reason });
            default:
              return send('invalid-request', 400, error.message, { field, reason });
          }
        }
        if (error.validation) {
          const { field, reason } = validationProblem(error.validation[0] as AjvError, error.validationContext);
          return send('invalid-request', 400, `${field} ${reason}`, { field, reason });
        }
        switch (error.code) {
          case 'FST_ERR_CTP_BODY_TOO_LARGE':
            return send('too-large', 413, `the body exceeds ${apiBodyLimit} bytes`);
          case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
            return send('unsupported-media-type', 415, 'send the body as application/json');
          case 'FST_ERR_CTP_EMPTY_JSON_BODY':
          case 'FST_ERR_CTP_INVALID_JSON_BODY':
            return send('malformed-json', 400, 'the body is not valid JSON', { field: 'body', reason: 'is not valid JSON' });
        }
        if (error instanceof SyntaxError && error.statusCode === 400) return send('malformed-json', 400, 'the body is not valid JSON', { field: 'body', reason: 'is not valid JSON' });
        if (error instanceof StoreUnavailableError || storeWriteErrorOf(error)) {
          request.log.error({ err: error }, 'API request failed: the database');
          reply.header('Retry-After', '30');
          return send('unavailable', 503, 'the database does not answer or refused the write; nothing was queued');
        }
        const status = error.statusCode ?? 500;
        if (status >= 400 && status < 500) {
          request.log.info({ code: error.code, status }, error.message);
          return send('invalid-request', status, error.message);
        }
        request.log.error({ err: error }, 'API request failed');
        return send('internal', 500, `the request failed; its id is ${request.id}`);
      });

      api.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () => api.swagger());
      await api.register(messageRoutes);
      describe = () => api.swagger() as unknown as Record<string, unknown>;
    },
    { prefix: apiPrefix },
  );

  app.decorate('apiDescription', () => describe());
  await app.register(apiDocsRoutes);
});
