// GET /api/whoami: the caller's own token, so a client (the dashboard) can show what it may do
// without probing admin endpoints and collecting 403s.
import { Hono } from 'hono';
import type { WhoAmIJson } from '../contract.js';
import type { ApiEnv } from '../env.js';

export function whoamiRoutes(): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.get('/', (c) => {
    const p = c.get('principal');
    const res: WhoAmIJson = { token_id: p.tokenId, tenant: p.tenant, admin: p.tenant === null };
    return c.json(res);
  });
  return r;
}
