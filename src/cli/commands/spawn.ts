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
      .argument('<instance>', 'service:id, e.g. notes:alice (or SERVICE with --id ID, as tenement 0.2 wrote it)')
      .option('-i, --id <id>', 'instance id, with SERVICE alone as the argument (`ten spawn notes --id alice`)')
      .option('--json', 'print the instance as JSON'),
  ).action(async (instance: string, opts: ConnectionFlags & { json?: boolean; id?: string }) => {
    if (opts.id !== undefined && instance.includes(':')) throw new Error(`give either SERVICE:ID or SERVICE --id ID, not both ("${instance}" and --id ${opts.id})`);
    const key = parseKey(opts.id !== undefined ? `${instance}:${opts.id}` : instance);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`spawning ${formatKey(key)}; waiting for it to become healthy...`);
    const res = await client.spawn(key.service, key.id);
    if (opts.json) printJson(res);
    say().success(`${res.instance} is ${res.state} (${res.health}) on port ${res.port}${res.url ? `: ${res.url}` : ''}`);
  });
}
