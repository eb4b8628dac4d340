import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/repository.js';

/** Who is acting, for the audit trail: the signed-in user, or the address alone for anonymous requests. */
export function actorOf(request: FastifyRequest): Actor {
  const user = request.user;
  return { userId: user?.id ?? null, name: user?.email ?? 'anonyme', ip: request.ip };
}
