// The controller's HTTP surface: public /health and /metrics, and the authenticated management
// API under /api. Each concern's routes live in ./routes; this file only assembles them.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Authenticator } from '../auth/authenticator.js';
import { FailureLimiter } from '../auth/failure-limiter.js';
import type { ApiContext, ApiDeps, ApiEnv } from './env.js';
import { auditRefusals } from './audit-trail.js';
import { errorResponse, statusOf } from './errors.js';
import { StreamGuard } from './stream-guard.js';
import { requireAuth } from './middleware/auth.js';
import { refuseQueryTokens } from './middleware/query-token.js';
import { auditRoutes } from './routes/audit.js';
import { deployRoutes } from './routes/deploy.js';
import { healthRoutes } from './routes/health.js';
import { instanceRoutes } from './routes/instances.js';
import { logRoutes } from './routes/logs.js';
import { metricsRoutes } from './routes/metrics.js';
import { serviceRoutes } from './routes/services.js';
import { tokenRoutes } from './routes/tokens.js';

export type { ApiDeps } from './env.js';

/** Request bodies are small JSON objects; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 64 * 1024;

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const ctx: ApiContext = {
    ...deps,
    now: deps.now ?? Date.now,
    limiter: deps.limiter ?? new FailureLimiter(deps.now ? { now: deps.now } : {}),
    authenticator: deps.authenticator ?? new Authenticator(deps.tokens, deps.now ? { now: deps.now } : {}),
    streamBuffer: deps.streamBuffer ?? 1000,
    streamKeepAliveMs: deps.streamKeepAliveMs ?? 15_000,
    streamGuard: deps.streamGuard ?? new StreamGuard(deps.tokens),
    security: deps.security ?? (() => ({ trustedProxies: [], metricsToken: undefined, tenantSpawn: [] })),
  };

  const app = new Hono<ApiEnv>();
  const auth = requireAuth({ authenticator: ctx.authenticator, limiter: ctx.limiter, log: ctx.log, trustedProxies: () => ctx.security().trustedProxies });
  app.use('*', refuseQueryTokens());
  app.route('/', healthRoutes(ctx, auth));
  app.route('/', metricsRoutes(ctx, auth));

  const api = new Hono<ApiEnv>();
  api.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: `request body is larger than ${MAX_BODY_BYTES} bytes` }, 413),
    }),
  );
  api.use('*', auth);
  api.use('*', auditRefusals(ctx));
  api.route('/instances', instanceRoutes(ctx));
  api.route('/', deployRoutes(ctx));
  api.route('/logs', logRoutes(ctx));
  api.route('/tokens', tokenRoutes(ctx));
  api.route('/audit', auditRoutes(ctx));
  api.route('/services', serviceRoutes(ctx));
  app.route('/api', api);

  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    const status = statusOf(err);
    if (status >= 500) ctx.log.error('API request failed', { method: c.req.method, path: c.req.path, status, error: err.message });
    return errorResponse(c, err);
  });
  return app;
}
