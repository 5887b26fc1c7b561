import { InvalidArgumentError, type Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

export function parseWeight(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 100) throw new InvalidArgumentError(`"${value}" is not a weight (a whole number 0-100)`);
  return n;
}

export function registerWeight(program: Command): void {
  connectionOptions(
    program
      .command('weight')
      .description("set an instance's share of its service's traffic (0 = running but no traffic)")
      .argument('<instance>', 'service:id')
      .argument('<weight>', '0-100', parseWeight)
      .option('--json', 'print the result as JSON'),
  ).action(async (instance: string, weight: number, opts: ConnectionFlags & { json?: boolean }) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    const res = await client.setWeight(formatKey(key), weight);
    if (opts.json) printJson(res);
    say().success(`${res.instance} weight ${res.weight}`);
  });
}
