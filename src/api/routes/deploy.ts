// POST /api/deploy and POST /api/route (admin only): blue/green through weights.
import { Hono } from 'hono';
import { requireAdmin } from '../access.js';
import { audited } from '../audit-trail.js';
import type { DeployResponse, RouteResponse } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { intField, labelField, readJsonObject } from '../validate.js';

/** Longest health wait a deploy may ask for: beyond this the HTTP request itself becomes the problem. */
export const MAX_DEPLOY_TIMEOUT_SEC = 3600;

export function deployRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  const knownService = (service: string) => {
    const services = ctx.control.services();
    if (!services.includes(service)) throw new HttpError(404, `service "${service}" is not defined in the config (defined: ${services.join(', ') || 'none'})`);
  };

  r.post('/deploy', async (c) => {
    requireAdmin(c, 'deploy');
    const body = await readJsonObject(c, ['process', 'version', 'weight', 'timeout']);
    const service = labelField(body, 'process', 'service name');
    const version = labelField(body, 'version', 'instance id of the new version');
    const weight = intField(body, 'weight', 0, 100, 100);
    const timeout = intField(body, 'timeout', 1, MAX_DEPLOY_TIMEOUT_SEC, 30);
    knownService(service);
    const found = ctx.control.get({ service, id: version });
    if (found) throw new HttpError(409, `instance ${service}:${version} already exists (state ${found.observed}); deploy a new version id, or use weight/route for this one`);
    const result = await audited(ctx, c, 'deploy', `${service}:${version}`, { weight, timeout }, () => ctx.control.deploy(service, version, weight, timeout));
    const res: DeployResponse = {
      instance: `${service}:${version}`,
      weight: result.instance.weight,
      status: 'healthy',
      port: result.instance.port,
      route_changes: result.route_changes,
    };
    return c.json(res);
  });

  r.post('/route', async (c) => {
    requireAdmin(c, 'route');
    const body = await readJsonObject(c, ['process', 'from', 'to']);
    const service = labelField(body, 'process', 'service name');
    const from = labelField(body, 'from', 'instance id taking no traffic afterwards');
    const to = labelField(body, 'to', 'instance id taking all traffic afterwards');
    if (from === to) throw new HttpError(422, `"from" and "to" are both "${from}"; routing needs two different instances`);
    knownService(service);
    for (const id of [from, to]) if (!ctx.control.get({ service, id })) throw new HttpError(404, `instance ${service}:${id} does not exist`);
    const result = await audited(ctx, c, 'route', `${service}:${from}->${to}`, { from, to }, () => ctx.control.route(service, from, to));
    const res: RouteResponse = {
      from_instance: `${service}:${from}`,
      to_instance: `${service}:${to}`,
      from_weight: result.from.weight,
      to_weight: result.to.weight,
    };
    return c.json(res);
  });
  return r;
}
