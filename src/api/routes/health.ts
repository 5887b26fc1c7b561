// GET /health: Caddy's active health check of the API route and operators' monitoring.
// 200 while the controller can serve (ok or degraded), 503 when it cannot, so the check means
// something. Anonymous callers (the endpoint is public, also through Caddy's root domain) get
// only the status, as the original did; the parts' details (config path, Caddy admin address,
// disk usage) are for an admin token.
import { Hono, type MiddlewareHandler } from 'hono';
import { isAdmin } from '../../auth/principal.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { authIfPresented, principalOf } from '../middleware/optional-auth.js';

export function healthRoutes(ctx: ApiContext, auth: MiddlewareHandler<ApiEnv>): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/health', authIfPresented(auth), (c) => {
    const health = ctx.control.health();
    const code = health.status === 'down' ? 503 : 200;
    const who = principalOf(c);
    return c.json(who && isAdmin(who) ? health : { status: health.status }, code);
  });
  return r;
}
