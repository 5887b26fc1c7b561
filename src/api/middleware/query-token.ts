// Tokens in URLs end up in access logs, proxy logs, shell history and browser history; the API
// refuses them outright (rather than ignoring them) so a client doing this learns at once.
import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';

const TOKEN_PARAMS = ['token', 'access_token', 'api_token', 'auth'];

export function refuseQueryTokens(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const found = TOKEN_PARAMS.find((p) => url.searchParams.has(p));
    if (found) {
      throw new HttpError(
        400,
        `tokens are not accepted in the query string ("${found}" parameter): they leak into logs and history; send the header "Authorization: Bearer <token>" instead`,
      );
    }
    await next();
  };
}
