import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { problemOf, sendProblem } from '../api/problem.js';
import { isApiUrl } from './access.js';

// Before any route runs, the language of the request is not known yet: these few pages say it in both.
const refusals = {
  tooLong: {
    fr: ['Requête trop longue', 'L’adresse ou les en-têtes de la requête sont trop longs : raccourcissez la recherche.'],
    en: ['Request too long', 'The address or the headers of the request are too long: shorten the search.'],
  },
  badUrl: {
    fr: ['Adresse invalide', 'L’adresse demandée contient un « % » qui n’est pas suivi de deux chiffres hexadécimaux, ou des octets qui ne sont pas de l’UTF-8.'],
    en: ['Invalid address', 'The address holds a “%” not followed by two hexadecimal digits, or bytes that are not UTF-8.'],
  },
  unreadable: {
    fr: ['Requête invalide', 'La requête n’est pas lisible.'],
    en: ['Invalid request', 'The request could not be read.'],
  },
};

function refusalPage({ fr, en }: (typeof refusals)[keyof typeof refusals]): string {
  return (
    `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>${fr[0]} – Relais</title></head><body>` +
    `<h1>${fr[0]}</h1><p>${fr[1]}</p><h2 lang="en">${en[0]}</h2><p lang="en">${en[1]}</p><p><a href="/">Relais</a></p></body></html>`
  );
}

/**
 * What Fastify refuses before any route runs (a URL that does not decode, a path parameter over its length) is told
 * as the rest of the app tells a refusal: a problem for the API, the error page in the user's language elsewhere.
 */
export function frameworkErrorsOf(publicUrl: string): NonNullable<FastifyServerOptions<Server>['frameworkErrors']> {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
    if (!isApiUrl(request.url)) {
      const page = status === 414 ? refusals.tooLong : refusals.badUrl;
      return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(refusalPage(page));
    }
    const detail = status === 414 ? 'a part of the path is too long' : 'the URL does not decode (a % not followed by two hexadecimal digits, or bytes that are not UTF-8)';
    return sendProblem(reply, problemOf(publicUrl, 'invalid-request', status, detail, { field: 'url', reason: status === 414 ? 'is too long' : 'does not decode' }));
  };
}

/** A request Node's parser refuses (headers over their size: a search pasted into the URL, say), answered in both languages. */
export const clientErrorHandlerOf = (publicUrl: string) => (error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void => {
  if (!socket.writable) {
    socket.destroy(error);
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const api = Buffer.isBuffer(error.rawPacket) && /^[A-Z]+ \/api[/? ]/.test(error.rawPacket.toString('latin1', 0, 64));
  const body = api
    ? JSON.stringify(tooLarge ? problemOf(publicUrl, 'too-large', 431, 'the URL or the headers are too long') : problemOf(publicUrl, 'invalid-request', 400, 'the request is not valid HTTP'))
    : refusalPage(tooLarge ? refusals.tooLong : refusals.unreadable);
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: ${api ? 'application/problem+json' : 'text/html; charset=utf-8'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
};
