import type { Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

export function registerSpawn(program: Command): void {
  connectionOptions(
    program
      .command('spawn')
      .description('start a new instance SERVICE:ID and wait until it is healthy')
      .argument('<instance>', 'service:id, e.g. notes:alice')
      .option('--json', 'print the instance as JSON'),
  ).action(async (instance: string, opts: ConnectionFlags & { json?: boolean }) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`spawning ${formatKey(key)}; waiting for it to become healthy...`);
    const res = await client.spawn(key.service, key.id);
    if (opts.json) printJson(res);
    say().success(`${res.instance} is ${res.state} (${res.health}) on port ${res.port}${res.url ? `: ${res.url}` : ''}`);
  });
}
