import type { Command } from 'commander';
import { dnsLabelProblem } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

export function registerRoute(program: Command): void {
  connectionOptions(
    program
      .command('route')
      .description("move all of a service's traffic from one instance to another in one change (from -> 0, to -> 100)")
      .argument('<service>', 'service name')
      .requiredOption('--from <id>', 'instance id that stops taking traffic')
      .requiredOption('--to <id>', 'instance id that takes all traffic')
      .option('--json', 'print the result as JSON'),
  ).action(async (service: string, opts: ConnectionFlags & { from: string; to: string; json?: boolean }) => {
    for (const [what, v] of [
      ['service', service],
      ['--from', opts.from],
      ['--to', opts.to],
    ] as const) {
      const problem = dnsLabelProblem(v);
      if (problem) throw new Error(`${what} "${v}" ${problem}`);
    }
    const client = new ApiClient(resolveConnection(opts));
    const res = await client.route(service, opts.from, opts.to);
    if (opts.json) printJson(res);
    say().success(`${res.to_instance} now takes all traffic (${res.to_weight}); ${res.from_instance} none (${res.from_weight})`);
  });
}
