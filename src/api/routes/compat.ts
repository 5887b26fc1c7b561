// Endpoints tenement 0.2 had that have no other home here: GET /api/telemetry (a snapshot of the
// controller and its instances) and GET /api/tls/status (in the original's shape).
import { Hono } from 'hono';
import type { TelemetryJson, TlsStatusJson } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';

/** When nobody says otherwise: this controller serves no HTTPS itself. */
export const TLS_OFF: TlsStatusJson = {
  enabled: false,
  domain: null,
  staging: false,
  https_port: 443,
  http_port: 80,
  recommendation: 'enable [settings.tls] (or `ten serve --tls --email you@example.com`) for HTTPS in the managed Caddy, or run your own Caddy (`ten caddy`)',
  mode: 'off',
};

export function compatRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/tls/status', (c) => c.json(ctx.tlsStatus()));
  r.get('/telemetry', (c) => {
    const tenant = c.get('principal').tenant;
    const records = ctx.control.list(tenant !== null ? { id: tenant } : {});
    const health = ctx.control.health();
    const byState: Record<string, number> = {};
    const byHealth: Record<string, number> = {};
    let restarts = 0;
    for (const rec of records) {
      byState[rec.observed] = (byState[rec.observed] ?? 0) + 1;
      byHealth[rec.health] = (byHealth[rec.health] ?? 0) + 1;
      restarts += rec.restartCount;
    }
    const body: TelemetryJson = {
      version: health.version,
      status: health.status,
      uptime_secs: health.uptime_seconds,
      instances: { total: records.length, by_state: byState, by_health: byHealth, restarts },
      services: ctx.control.services().length,
      request_metrics: ctx.metrics.history.requestMetrics,
    };
    return c.json(body);
  });
  return r;
}
