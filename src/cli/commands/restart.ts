import type { Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

export function registerRestart(program: Command): void {
  connectionOptions(
    program
      .command('restart')
      .description('restart an instance and wait until it is healthy again')
      .argument('<instance>', 'service:id')
      .option('--json', 'print the instance as JSON'),
  ).action(async (instance: string, opts: ConnectionFlags & { json?: boolean }) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`restarting ${formatKey(key)}; waiting for it to become healthy...`);
    const res = await client.restart(formatKey(key));
    if (opts.json) printJson(res);
    say().success(`${res.instance} is ${res.state} (${res.health}), restarts: ${res.restarts}`);
  });
}
