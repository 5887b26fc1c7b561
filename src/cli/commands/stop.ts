import type { Command } from 'commander';
import { parseKey, formatKey } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { say } from '../client/output.js';

export function registerStop(program: Command): void {
  connectionOptions(
    program.command('stop').description('stop an instance gracefully and remove it (its data dir is kept unless storage_persist = false)').argument('<instance>', 'service:id'),
  ).action(async (instance: string, opts: ConnectionFlags) => {
    const key = parseKey(instance);
    const client = new ApiClient(resolveConnection(opts));
    say().start(`stopping ${formatKey(key)}...`);
    await client.stop(formatKey(key));
    say().success(`${formatKey(key)} stopped`);
  });
}
