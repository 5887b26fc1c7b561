// GET /metrics (public, Prometheus text format).
import { Hono } from 'hono';
import type { ApiContext, ApiEnv } from '../env.js';

export function metricsRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/metrics', async (c) => {
    const text = await ctx.metrics.render();
    return c.body(text, 200, { 'Content-Type': ctx.metrics.contentType });
  });
  return r;
}
