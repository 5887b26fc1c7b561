// GET /api/history: the last hour of requests, latency, restarts and wakes per instance and per
// service, from the controller's in-memory history (src/metrics/history.ts). A tenant token gets
// its own instances only, and service sums of those alone.
import { Hono } from 'hono';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { labelQuery } from '../validate.js';

export function historyRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/', (c) => {
    const service = labelQuery(c, 'process');
    const id = labelQuery(c, 'id');
    const tenant = c.get('principal').tenant;
    if (tenant !== null && id !== undefined && id !== tenant) {
      throw new HttpError(403, `this token belongs to tenant "${tenant}" and reads only the history of instances with id "${tenant}", not "${id}"`);
    }
    const scope = tenant ?? id;
    return c.json(ctx.metrics.history.snapshot({ ...(service ? { service } : {}), ...(scope ? { id: scope } : {}) }));
  });
  return r;
}
