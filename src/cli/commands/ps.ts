import type { Command } from 'commander';
import type { InstanceJson } from '../../api/contract.js';
import { dnsLabelProblem } from '../../util/instance-key.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { duration, print, printJson, table } from '../client/output.js';

/** The original's columns, in its order; --wide adds ours. */
export function instanceTable(list: readonly InstanceJson[], wide: boolean): string {
  const header = ['INSTANCE', 'LISTEN', 'UPTIME', 'IDLE', 'HEALTH', 'WEIGHT'];
  if (wide) header.push('STATE', 'PID', 'RESTARTS', 'URL', 'STORAGE', 'LAST EXIT');
  const rows = list.map((i) => {
    const row = [i.id, `127.0.0.1:${i.port}`, duration(i.uptime_secs), duration(i.idle_secs), i.health, String(i.weight)];
    if (wide) row.push(i.state, i.pid === null ? '-' : String(i.pid), String(i.restarts), i.url ?? '-', storage(i), i.last_exit ?? '-');
    return row;
  });
  return table(header, rows);
}

function mb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))}MB` : `${Math.ceil(bytes / 1024)}KB`;
}

/** "12MB / 512MB", "12MB / 512MB OVER", or "-" before the first measurement. */
function storage(i: InstanceJson): string {
  if (i.storage_used_bytes === null || i.storage_used_bytes === undefined) return '-';
  if (i.storage_quota_bytes === null || i.storage_quota_bytes === undefined) return mb(i.storage_used_bytes);
  return `${mb(i.storage_used_bytes)} / ${mb(i.storage_quota_bytes)}${i.storage_used_bytes > i.storage_quota_bytes ? ' OVER' : ''}`;
}

export function registerPs(program: Command): void {
  connectionOptions(
    program
      .command('ps')
      .alias('ls')
      .description('list instances')
      .argument('[service]', 'only this service')
      .option('-w, --wide', 'also show state, pid, restarts, URL, storage and last exit (e.g. oom-killed)')
      .option('--json', 'print the instances as JSON'),
  ).action(async (service: string | undefined, opts: ConnectionFlags & { json?: boolean; wide?: boolean }) => {
    if (service !== undefined) {
      const problem = dnsLabelProblem(service);
      if (problem) throw new Error(`service "${service}" ${problem}`);
    }
    const client = new ApiClient(resolveConnection(opts));
    const list = await client.list(service);
    if (opts.json) return printJson(list);
    if (list.length === 0) return print('no instances');
    print(instanceTable(list, opts.wide === true));
  });
}
