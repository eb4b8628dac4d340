import type { FastifyRequest } from 'fastify';

/** Confirmation links and the first-start link are secrets in their URL: the log keeps where, not which. */
export function redactedUrl(url: string): string {
  return url.replace(/^\/(confirm|setup)\/[^/?#]+/, '/$1/[redacted]');
}

/** Fastify's request fields, with the URL redacted. */
export function requestLogFields(request: FastifyRequest) {
  return { method: request.method, url: redactedUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}
