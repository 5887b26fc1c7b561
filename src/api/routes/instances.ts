// /api/instances: list, spawn, stop, restart, weight, health, detail.
import { Hono } from 'hono';
import { formatKey, type InstanceKey } from '../../util/instance-key.js';
import { requireAdmin, requireInstanceAccess, requireSpawnRight } from '../access.js';
import { audited } from '../audit-trail.js';
import type { InstanceHealthResponse, SpawnResponse, WeightResponse } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { instanceParam, intField, labelField, labelQuery, readJsonObject } from '../validate.js';
import { instanceJson } from '../wire.js';

export function instanceRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  const existing = (key: InstanceKey) => {
    const record = ctx.control.get(key);
    if (!record) throw new HttpError(404, `instance ${formatKey(key)} does not exist`);
    return record;
  };
  const withInstance = (record: ReturnType<typeof existing>): SpawnResponse => ({
    instance: `${record.service}:${record.id}`,
    ...instanceJson(record, ctx.control, ctx.now()),
  });

  r.get('/', (c) => {
    const service = labelQuery(c, 'process');
    const tenant = c.get('principal').tenant;
    const records = ctx.control.list({ ...(service ? { service } : {}), ...(tenant !== null ? { id: tenant } : {}) });
    const now = ctx.now();
    return c.json(records.map((rec) => instanceJson(rec, ctx.control, now)));
  });

  r.post('/spawn', async (c) => {
    const body = await readJsonObject(c, ['process', 'id']);
    const key = { service: labelField(body, 'process', 'service name'), id: labelField(body, 'id', 'instance id') };
    requireSpawnRight(c, key, ctx.security().tenantSpawn, 'spawn');
    const services = ctx.control.services();
    if (!services.includes(key.service)) throw new HttpError(404, `service "${key.service}" is not defined in the config (defined: ${services.join(', ') || 'none'})`);
    const found = ctx.control.get(key);
    if (found) throw new HttpError(409, `instance ${formatKey(key)} already exists (state ${found.observed}); use restart to restart it`);
    const record = await audited(ctx, c, 'spawn', formatKey(key), {}, () => ctx.control.spawn(key));
    return c.json(withInstance(record));
  });

  r.get('/:instance', (c) => {
    const key = instanceParam(c);
    requireInstanceAccess(c, key);
    return c.json(instanceJson(existing(key), ctx.control, ctx.now()));
  });

  r.delete('/:instance', async (c) => {
    const key = instanceParam(c);
    requireSpawnRight(c, key, ctx.security().tenantSpawn, 'stop');
    existing(key);
    await audited(ctx, c, 'stop', formatKey(key), {}, () => ctx.control.stop(key));
    return c.body(null, 204);
  });

  r.post('/:instance/restart', async (c) => {
    const key = instanceParam(c);
    requireInstanceAccess(c, key);
    existing(key);
    const record = await audited(ctx, c, 'restart', formatKey(key), {}, () => ctx.control.restart(key));
    return c.json(withInstance(record));
  });

  r.put('/:instance/weight', async (c) => {
    const key = instanceParam(c);
    // The weight splits a service route that other tenants' instances share: the operator's call.
    requireAdmin(c, 'setting a weight');
    const body = await readJsonObject(c, ['weight']);
    const weight = intField(body, 'weight', 0, 100);
    const before = existing(key);
    const record = await audited(ctx, c, 'weight', formatKey(key), { from: before.weight, to: weight }, () => ctx.control.setWeight(key, weight));
    const res: WeightResponse = { instance: formatKey(key), weight: record.weight };
    return c.json(res);
  });

  r.get('/:instance/health', async (c) => {
    const key = instanceParam(c);
    requireInstanceAccess(c, key);
    const record = existing(key);
    const probe = await ctx.control.probe(key);
    const res: InstanceHealthResponse = { instance: formatKey(key), health: record.health, state: record.observed, ok: probe.ok, detail: probe.detail };
    return c.json(res);
  });

  return r;
}
