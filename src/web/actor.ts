import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/repository.js';

/** Who is acting, for the audit trail: the signed-in user once there is one, else the address alone. */
export function actorOf(request: FastifyRequest): Actor {
  const user = (request as { user?: { id: number; email: string } | null }).user;
  return { userId: user?.id ?? null, name: user?.email ?? 'anonyme', ip: request.ip };
}
