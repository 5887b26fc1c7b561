import { InvalidArgumentError, type Command } from 'commander';
import { parseKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';
import { parseWeight } from './weight.js';

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 3600) throw new InvalidArgumentError(`"${value}" is not a timeout (whole seconds, 1-3600)`);
  return n;
}

export function registerDeploy(program: Command): void {
  connectionOptions(
    program
      .command('deploy')
      .description('start SERVICE:VERSION, wait until it is healthy, then give it --weight of the traffic')
      .argument('<service:version>', 'e.g. api:v2')
      .option('-w, --weight <weight>', 'traffic weight once healthy (0-100)', parseWeight, 100)
      .option('--timeout <seconds>', 'how long it may take to become healthy', parseTimeout, 30)
      .option('--json', 'print the result as JSON'),
  ).action(async (target: string, opts: ConnectionFlags & { weight: number; timeout: number; json?: boolean }) => {
    const key = parseKey(target);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`deploying ${key.service}:${key.id}; waiting up to ${opts.timeout} s for it to become healthy...`);
    const res = await client.deploy(key.service, key.id, opts.weight, opts.timeout);
    if (opts.json) printJson(res);
    say().success(`${res.instance} is healthy on port ${res.port} with weight ${res.weight}`);
  });
}
