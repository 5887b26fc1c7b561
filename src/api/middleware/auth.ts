// Bearer-token authentication for /api/*, with failed attempts limited per client address.
// The token is verified before the limit is consulted: a valid token always works (issue 11 #2:
// ten bad guesses from a shared address used to lock the admin out). Only failures are limited.
import type { MiddlewareHandler } from 'hono';
import type { Authenticator } from '../../auth/authenticator.js';
import { clientAddress } from '../../auth/client-address.js';
import type { FailureLimiter } from '../../auth/failure-limiter.js';
import type { Logger } from '../../util/logger.js';
import type { ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';

export interface AuthDeps {
  authenticator: Authenticator;
  limiter: FailureLimiter;
  log: Logger;
  /** Peers whose X-Forwarded-For is believed ([settings] trusted_proxies); read per request (live reload). */
  trustedProxies?: () => readonly string[];
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="tenement"' };

export function requireAuth(deps: AuthDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const address = clientAddress(c.env?.incoming?.socket?.remoteAddress, c.req.header('x-forwarded-for'), deps.trustedProxies?.() ?? []);
    c.set('clientAddress', address);
    const header = c.req.header('authorization');
    // Missing or malformed headers are not guesses, so they do not count against the address.
    if (header === undefined || header.trim() === '') {
      throw new HttpError(401, 'missing "Authorization: Bearer <token>" header (create a token with `ten token-gen`)', CHALLENGE);
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) throw new HttpError(401, 'the Authorization header must be "Bearer <token>"', CHALLENGE);
    const result = deps.authenticator.verify(m[1]!);
    if (!result.ok) {
      const limit = deps.limiter.check(address);
      if (limit.blocked) {
        throw new HttpError(429, `too many failed authentication attempts from ${address}; try again in ${limit.retryAfterSec} s`, {
          'Retry-After': String(limit.retryAfterSec),
        });
      }
      deps.limiter.recordFailure(address);
      deps.log.warn('API authentication failed', { client: address, reason: result.reason, path: c.req.path });
      throw new HttpError(401, result.reason, CHALLENGE);
    }
    c.set('principal', result.principal);
    await next();
  };
}
