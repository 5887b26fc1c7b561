import { InvalidArgumentError, type Command } from 'commander';
import type { LogJson } from '../../api/contract.js';
import { dnsLabelProblem, parseKey } from '../../util/instance-key.js';
import { ApiClient, type LogFilterParams } from '../client/api-client.js';
import { connectionOptions, resolveConnection, type ConnectionFlags } from '../client/connection.js';
import { colorsEnabled, print, say } from '../client/output.js';
import { terminalSafe } from '../client/terminal-safe.js';

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 10_000) throw new InvalidArgumentError(`"${value}" is not a limit (1-10000)`);
  return n;
}

/** "svc:id" -> that instance, "svc" -> the whole service. */
export function logTarget(target: string | undefined): Pick<LogFilterParams, 'process' | 'id'> {
  if (target === undefined) return {};
  if (target.includes(':')) {
    const key = parseKey(target);
    return { process: key.service, id: key.id };
  }
  const problem = dnsLabelProblem(target);
  if (problem) throw new Error(`service "${target}" ${problem}`);
  return { process: target };
}

const LEVEL_COLOR: Record<string, string> = { error: '\x1b[31m', warn: '\x1b[33m', debug: '\x1b[90m' };

export function formatLogLine(l: LogJson, color: boolean): string {
  const level = l.level.toUpperCase().padEnd(5);
  const shown = color && LEVEL_COLOR[l.level] ? `${LEVEL_COLOR[l.level]}${level}\x1b[0m` : level;
  // Only the colours added here reach the terminal as escapes; everything from the tenant is shown escaped.
  return `${terminalSafe(l.timestamp)} ${terminalSafe(l.process)}:${terminalSafe(l.instance_id)} ${shown} ${terminalSafe(l.message)}`;
}

export function registerLogs(program: Command): void {
  connectionOptions(
    program
      .command('logs')
      .description('show captured instance output; full-text search with --search ("exact phrase", prefix*, OR, NOT)')
      .argument('[target]', 'service:id for one instance, or service for all of its instances')
      .option('-f, --follow', 'keep printing new lines as they are written')
      .option('--search <query>', 'full-text search, e.g. \'"connection refused" OR timeout*\'')
      .option('--level <level>', 'debug, info, warn or error (or stdout / stderr)')
      .option('--since <when>', 'only lines since: 15m, 2h, 7d, an ISO time, or epoch ms')
      .option('--limit <n>', 'how many of the newest lines to show', parseLimit, 100)
      .option('--json', 'print one JSON object per line'),
  ).action(async (target: string | undefined, opts: ConnectionFlags & { follow?: boolean; search?: string; level?: string; since?: string; limit: number; json?: boolean }) => {
    const filters: LogFilterParams = { ...logTarget(target), level: opts.level, search: opts.search, since: opts.since };
    const client = new ApiClient(resolveConnection(opts));
    const color = !opts.json && colorsEnabled(process.stdout);
    const show = (l: LogJson) => print(opts.json ? JSON.stringify(l) : formatLogLine(l, color));
    const lines = await client.logs(filters, opts.limit);
    for (const l of lines) show(l);
    if (!opts.follow) return;

    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      // Resume after the last line shown, so nothing written in between is lost.
      const after = lines.length > 0 ? lines[lines.length - 1]!.id : undefined;
      await client.followLogs(
        filters,
        after,
        (item) => {
          if (item.kind === 'log') show(item.line);
          else say().warn(`missed ${item.missed.missed ?? 'some'} lines (ids ${item.missed.from_id}-${item.missed.to_id}): ${item.missed.reason}`);
        },
        abort.signal,
      );
      if (!abort.signal.aborted) throw new Error('the server ended the log stream (controller stopped or restarted?)');
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
