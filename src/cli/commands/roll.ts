// `ten roll SERVICE`: after a config edit changed a service's definition (command, env, ...),
// restart its instances that still run the previous one, one at a time, each until healthy.
import type { Command } from 'commander';
import got, { RequestError } from 'got';
import type { RollResponse, ServiceJson } from '../../api/contract.js';
import { dnsLabelProblem } from '../../util/instance-key.js';
import { ApiRequestError } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type Connection, type ConnectionFlags } from '../client/connection.js';
import { print, printJson, say, table } from '../client/output.js';

/** A roll waits for every instance's restart in one request. */
const ROLL_TIMEOUT_MS = 60 * 60_000;

/** GET/POST /api/services/:service[/roll], with the server's `error` as the message (as ApiClient does). */
async function servicesCall<T>(conn: Connection, method: 'GET' | 'POST', path: string, timeoutMs: number): Promise<T> {
  let res;
  try {
    res = await got(`${conn.server}/api/services/${path}`, {
      method,
      headers: { authorization: `Bearer ${conn.token}`, 'user-agent': 'ten' },
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: timeoutMs },
    });
  } catch (err) {
    if (err instanceof RequestError) {
      throw new Error(`cannot reach the tenement server at ${conn.server}: ${err.code ?? err.message} (is \`ten serve\` running? set --server or TENEMENT_SERVER)`, { cause: err });
    }
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    throw new ApiRequestError(`server answered HTTP ${res.statusCode} with something that is not JSON; is it a tenement server?`, res.statusCode);
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return body as T;
  const error = (body as { error?: unknown }).error;
  throw new ApiRequestError(typeof error === 'string' ? error : `server answered HTTP ${res.statusCode}`, res.statusCode);
}

export function planTable(s: ServiceJson): string {
  return table(
    ['INSTANCE', 'STATE', 'HEALTH', 'WEIGHT', 'CONFIG', 'ROLL'],
    s.instances.map((i) => [
      i.instance,
      i.state,
      i.health,
      String(i.weight),
      i.current ? 'current' : (i.config_hash ?? 'unknown'),
      i.roll === 'none' ? '-' : i.roll === 'restart' ? 'restart' : `skip: ${i.reason ?? ''}`,
    ]),
  );
}

export function registerRoll(program: Command): void {
  connectionOptions(
    program
      .command('roll')
      .description("restart a service's instances that run an older definition of it, one at a time, each until healthy")
      .argument('<service>', 'service name')
      .option('-n, --dry-run', 'show which instances would be restarted, and change nothing')
      .option('--json', 'print the result as JSON'),
  ).action(async (service: string, opts: ConnectionFlags & { dryRun?: boolean; json?: boolean }) => {
    const problem = dnsLabelProblem(service);
    if (problem) throw new Error(`service "${service}" ${problem}`);
    const conn = resolveConnection(opts);
    if (opts.dryRun) {
      const plan = await servicesCall<ServiceJson>(conn, 'GET', encodeURIComponent(service), 30_000);
      if (opts.json) return printJson(plan);
      if (plan.instances.length === 0) return print(`${service} has no instances`);
      print(planTable(plan));
      const n = plan.instances.filter((i) => i.roll === 'restart').length;
      say().info(
        n === 0
          ? `nothing to roll: ${service} runs its current definition (${plan.config_hash})`
          : `\`ten roll ${service}\` would restart ${n} instance(s) onto ${plan.config_hash}`,
      );
      return;
    }
    say().start(`rolling ${service}: restarting instances on an older definition one at a time, each until healthy...`);
    const res = await servicesCall<RollResponse>(conn, 'POST', `${encodeURIComponent(service)}/roll`, ROLL_TIMEOUT_MS);
    if (opts.json) printJson(res);
    for (const s of res.skipped) say().warn(`${s.instance} not restarted: ${s.reason}`);
    say().success(
      res.restarted.length
        ? `${service} rolled onto ${res.config_hash}: restarted ${res.restarted.join(', ')}${res.up_to_date.length ? `; already current: ${res.up_to_date.join(', ')}` : ''}`
        : `nothing to roll: every running instance of ${service} is on ${res.config_hash}`,
    );
  });
}
