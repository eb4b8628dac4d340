/**
 * Who may use a route, declared on the route itself (`config: { access }`) and enforced in one place.
 * A route that declares nothing is for administrators: forgetting the declaration fails closed.
 * `token`: the sending API's routes, for an API token (Authorization: Bearer), checked by the API itself
 * (src/api/plugin.ts); no session is looked up and no CSRF token asked for.
 */
export type Access = 'public' | 'viewer' | 'admin' | 'token';

/** The API's URLs: their unknown paths answer a problem+json 404, not the login page. */
export const apiPrefix = '/api';

export function isApiUrl(url: string): boolean {
  return url === apiPrefix || url.startsWith(`${apiPrefix}/`) || url.startsWith(`${apiPrefix}?`);
}

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
