import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The headers helmet sets for these options, worked out once: with no directive written as a function they depend on
 * nothing in the request. (@fastify/helmet built helmet's whole middleware again for every request, CSP parsing included.)
 */
function securityHeadersFor(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  let done = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err) => {
    failure = err;
    done = true;
  });
  if (failure) throw failure;
  if (!done) throw new Error('helmet did not set its headers synchronously: they cannot be worked out once');
  return headers;
}

/** Every answer carries them, set before the route runs (a route may still replace one, as the signature preview does). */
export const securityHeaders = fp(async function securityHeaders(app: FastifyInstance, options: HelmetOptions) {
  const headers = securityHeadersFor(options);
  app.addHook('onRequest', (_request, reply, next) => {
    reply.headers(headers);
    next();
  });
});
