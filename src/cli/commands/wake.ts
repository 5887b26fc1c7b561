// `ten wake SVC:ID`: start an asleep (or backoff, or stopped) instance now, as a request to it
// would, without sending it one (POST /api/instances/:instance/wake, the dashboard's Wake button).
import type { Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

export function registerWake(program: Command): void {
  connectionOptions(
    program
      .command('wake')
      .description('start an asleep instance now, as a request would, and wait until it runs (a running one is left as is)')
      .argument('<instance>', 'service:id')
      .option('--json', 'print the instance as JSON'),
  ).action(async (instance: string, opts: ConnectionFlags & { json?: boolean }) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`waking ${formatKey(key)}...`);
    const res = await client.wake(formatKey(key));
    if (opts.json) printJson(res);
    say().success(`${res.instance} is ${res.state} (${res.health}) on port ${res.port}`);
  });
}
