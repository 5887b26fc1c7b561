// /api/services (admin only): which instances run the current definition of their service, and
// rolling restarts onto it after a config edit (docs/config-reload.md).
import { Hono } from 'hono';
import { dnsLabelProblem } from '../../util/instance-key.js';
import { requireAdmin } from '../access.js';
import { audited } from '../audit-trail.js';
import type { ServiceRoller } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { rollJson, serviceJson } from '../service-json.js';

export function serviceRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  const roller = (): ServiceRoller => {
    const control = ctx.control;
    if (!control.describeService || !control.rollService) throw new HttpError(503, 'this controller does not support rolling restarts');
    return { describeService: control.describeService.bind(control), rollService: control.rollService.bind(control) };
  };
  const serviceParam = (raw: string | undefined): string => {
    const name = raw ?? '';
    const problem = dnsLabelProblem(name);
    if (problem) throw new HttpError(400, `service name ${problem}; got ${JSON.stringify(name)}`);
    const services = ctx.control.services();
    if (!services.includes(name)) throw new HttpError(404, `service "${name}" is not defined in the config (defined: ${services.join(', ') || 'none'})`);
    return name;
  };

  r.get('/', (c) => {
    requireAdmin(c, 'listing services');
    const roll = roller();
    return c.json(ctx.control.services().map((s) => serviceJson(roll.describeService(s))));
  });

  r.get('/:service', (c) => {
    requireAdmin(c, 'describing a service');
    return c.json(serviceJson(roller().describeService(serviceParam(c.req.param('service')))));
  });

  r.post('/:service/roll', async (c) => {
    requireAdmin(c, 'roll');
    const service = serviceParam(c.req.param('service'));
    const roll = roller();
    const result = await audited(ctx, c, 'roll', service, {}, () => roll.rollService(service));
    return c.json(rollJson(result));
  });
  return r;
}
