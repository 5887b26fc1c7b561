// POST /api/instances/:instance/wake: start a sleeping instance without sending it a request (the
// dashboard's "wake" button). A tenant token may wake its own instances.
import { Hono } from 'hono';
import { formatKey } from '../../util/instance-key.js';
import { requireInstanceAccess } from '../access.js';
import { audited } from '../audit-trail.js';
import type { SpawnResponse } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { instanceParam } from '../validate.js';
import { instanceJson } from '../wire.js';

export function wakeRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.post('/:instance/wake', async (c) => {
    const key = instanceParam(c);
    requireInstanceAccess(c, key);
    if (!ctx.control.get(key)) throw new HttpError(404, `instance ${formatKey(key)} does not exist`);
    const wake = ctx.control.wake?.bind(ctx.control);
    if (!wake) throw new HttpError(503, 'waking instances is not available in this controller');
    const record = await audited(ctx, c, 'wake', formatKey(key), {}, () => wake(key));
    const res: SpawnResponse = { instance: formatKey(key), ...instanceJson(record, ctx.control, ctx.now()) };
    return c.json(res);
  });
  return r;
}
