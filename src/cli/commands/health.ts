import type { Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { print, printJson } from '../client/output.js';

export function registerHealth(program: Command): void {
  connectionOptions(
    program
      .command('health')
      .description('probe an instance now; exits non-zero when the probe fails')
      .argument('<instance>', 'service:id')
      .option('--json', 'print the result as JSON'),
  ).action(async (instance: string, opts: ConnectionFlags & { json?: boolean }) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    const res = await client.health(formatKey(key));
    if (opts.json) printJson(res);
    else print(`${res.instance}: ${res.health} (state ${res.state}); probe: ${res.ok ? 'ok' : 'failed'}, ${res.detail}`);
    if (!res.ok) throw new Error(`${res.instance} failed its health probe: ${res.detail}`);
  });
}
