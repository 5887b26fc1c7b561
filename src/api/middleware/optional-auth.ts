// Authentication for public endpoints that show more to a token holder (/health, /metrics): a
// request without an Authorization header passes as anonymous; one with a header is held to the
// same rules (and failure limit) as /api/*, so a wrong token is a 401 rather than silently public.
import type { MiddlewareHandler } from 'hono';
import type { Principal } from '../../auth/principal.js';
import type { ApiEnv } from '../env.js';

export function authIfPresented(auth: MiddlewareHandler<ApiEnv>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.req.header('authorization') === undefined) return next();
    return auth(c, next);
  };
}

/** The verified caller, or undefined for an anonymous request. */
export function principalOf(c: { get(key: 'principal'): Principal }): Principal | undefined {
  return c.get('principal') as Principal | undefined;
}
