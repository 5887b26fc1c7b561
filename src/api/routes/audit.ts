// GET /api/audit (admin only): who changed what, newest first.
import { Hono } from 'hono';
import { requireAdmin } from '../access.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { intQuery, timeQuery } from '../validate.js';
import { auditJson } from '../wire.js';

export function auditRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/', (c) => {
    requireAdmin(c, 'the audit log');
    const limit = intQuery(c, 'limit', 1, 10_000) ?? 100;
    const since = timeQuery(c, 'since', ctx.now());
    const target = c.req.query('target');
    if (target !== undefined && (target.length === 0 || target.length > 200)) throw new HttpError(400, 'query parameter "target" must be 1-200 characters, e.g. notes:alice');
    const entries = ctx.audit.list({ limit, ...(since !== undefined ? { since } : {}), ...(target ? { target } : {}) });
    return c.json(entries.map(auditJson));
  });
  return r;
}
