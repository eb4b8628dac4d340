/**
 * Who may use a route, declared on the route itself (`config: { access }`) and enforced in one place.
 * A route that declares nothing is for administrators: forgetting the declaration fails closed.
 */
export type Access = 'public' | 'viewer' | 'admin';

export interface SignedInUser {
  id: number;
  email: string;
  displayName: string;
  role: 'admin' | 'viewer';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The signed-in user; null on public pages and for anonymous requests. */
    user: SignedInUser | null;
  }
}

export function routeAccess(config: { access?: Access } | undefined): Access {
  return config?.access ?? 'admin';
}
