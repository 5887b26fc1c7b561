import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { consola } from 'consola';
import { commandFor, upgradeRequestFile, upgradeResultFile, type UpgradeRequest, type UpgradeResult } from '../../controller/handover.js';
import { loadConfigWithWarnings } from '../../controller/controller.js';
import { readDataDirLock } from '../../store/data-dir-lock.js';
import { createLogger } from '../../util/logger.js';
import { isSameProcess } from '../../util/proc.js';
import { waitFor } from '../../util/wait.js';
import { resolveConfigFile } from '../config-file.js';

/** Runs `bin args...` and returns its output, or throws with what it printed. */
function tryRun(bin: string, args: string[]): string {
  const { file, args: full } = commandFor(bin, ['', '', ...args]);
  try {
    return execFileSync(file, full, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed:\n${(e.stderr || e.stdout || e.message).trim()}`, { cause: err });
  }
}

export function registerUpgrade(program: Command): void {
  program
    .command('upgrade')
    .description('replace the running controller with a new binary without dropping a request (tenants and Caddy keep running)')
    .option('--bin <path>', 'the new `ten` to run (default: re-run the installed one, e.g. after npm install -g)')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('--data-dir <dir>', 'overrides settings.data_dir')
    .option('--timeout <seconds>', 'how long to wait for the handover', (v) => Number(v), 60)
    .action(async (opts: { bin?: string; config?: string; dataDir?: string; timeout: number }) => {
      const configFile = resolveConfigFile(opts.config);
      const config = loadConfigWithWarnings(configFile, createLogger(), opts.dataDir);
      const dataDir = config.settings.data_dir;
      const owner = readDataDirLock(dataDir);
      if (!owner || !isSameProcess(owner.pid, owner.startTime)) {
        throw new Error(`no controller is running on ${dataDir}; start one with \`ten serve\` (an upgrade with downtime is just: stop, install, start)`);
      }
      const bin = opts.bin ? path.resolve(opts.bin) : undefined;
      if (bin) {
        // The guide's checks, done for you: the binary runs, and it accepts this config.
        const version = tryRun(bin, ['--version']);
        tryRun(bin, ['config', '--quiet', '--config', configFile]);
        consola.info(`new binary: ${version}; config valid for it`);
      }
      fs.rmSync(upgradeResultFile(dataDir), { force: true });
      const request: UpgradeRequest = { ...(bin ? { bin } : {}), requestedAt: new Date().toISOString() };
      fs.writeFileSync(upgradeRequestFile(dataDir), JSON.stringify(request));
      consola.start(`handing over from controller pid ${owner.pid} (tenement ${owner.version})...`);
      process.kill(owner.pid, 'SIGUSR2');
      const result = await waitFor(
        () => {
          try {
            return JSON.parse(fs.readFileSync(upgradeResultFile(dataDir), 'utf8')) as UpgradeResult;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: opts.timeout * 1000, maxIntervalMs: 100, what: 'the handover to finish' },
      );
      if (!result.ok) throw new Error(`upgrade failed, the old controller keeps serving: ${result.error}`);
      consola.success(`upgraded: pid ${result.from.pid} (tenement ${result.from.version}) -> pid ${result.to!.pid} (tenement ${result.to!.version})`);
    });
}
