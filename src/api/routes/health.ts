// GET /health (public): Caddy's active health check of the API route and operators' monitoring.
// 200 while the controller can serve (ok or degraded), 503 when it cannot, so the check means
// something.
import { Hono } from 'hono';
import type { ApiContext, ApiEnv } from '../env.js';

export function healthRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/health', (c) => {
    const health = ctx.control.health();
    return c.json(health, health.status === 'down' ? 503 : 200);
  });
  return r;
}
