// GET /metrics (Prometheus text format). Public unless `[settings] metrics_token` is set: the
// series name every tenant, which is nobody else's business on a shared host. Then the scraper
// sends `Authorization: Bearer <metrics_token>` (Prometheus: `authorization: {credentials: ...}`);
// an admin API token is accepted too.
import crypto from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { isAdmin } from '../../auth/principal.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { authIfPresented, principalOf } from '../middleware/optional-auth.js';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="tenement-metrics"' };

function sameSecret(a: string, b: string): boolean {
  // Hashing first makes the comparison constant-time whatever the lengths.
  const h = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(h(a), h(b));
}

export function metricsRoutes(ctx: ApiContext, auth: MiddlewareHandler<ApiEnv>): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  // The metrics token is not an API token: check it before the API's authentication sees it.
  r.get('/metrics', async (c, next) => {
    const required = ctx.security().metricsToken;
    if (required === undefined) return next();
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (m && sameSecret(m[1]!, required)) {
      c.set('metricsTokenOk', true);
      return next();
    }
    if (!m) throw new HttpError(401, '/metrics requires "Authorization: Bearer <metrics_token>" ([settings] metrics_token) or an admin token', CHALLENGE);
    return authIfPresented(auth)(c, next);
  });
  r.get('/metrics', async (c) => {
    if (ctx.security().metricsToken !== undefined && !c.get('metricsTokenOk')) {
      const who = principalOf(c);
      if (!who || !isAdmin(who)) throw new HttpError(403, '/metrics requires the metrics token or an admin token; this token belongs to a tenant');
    }
    const text = await ctx.metrics.render();
    return c.body(text, 200, { 'Content-Type': ctx.metrics.contentType });
  });
  return r;
}
