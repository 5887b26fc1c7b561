import type { Command } from 'commander';
import { consola } from 'consola';
import { readDataDirLock, acquireDataDirLock } from '../../store/data-dir-lock.js';
import { openDatabase } from '../../store/database.js';
import { InstanceStore } from '../../store/instance-store.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import { loadConfigWithWarnings } from '../../controller/controller.js';
import { createLogger } from '../../util/logger.js';
import { isSameProcess } from '../../util/proc.js';
import { waitFor } from '../../util/wait.js';
import { VERSION } from '../../version.js';
import { resolveConfigFile } from '../config-file.js';
import { ManagedCaddy } from '../../../caddy/managed-caddy.js';
import { caddyProcessHost } from '../../routing/caddy-process-host.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the controller and every instance, gracefully (records, ports and data are kept; the next `ten serve` starts them again)')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('--data-dir <dir>', 'overrides settings.data_dir')
    .option('--timeout <seconds>', 'how long to wait for the running controller to exit', (v) => Number(v), 30)
    .action(async (opts: { config?: string; dataDir?: string; timeout: number }) => {
      const log = createLogger();
      const config = loadConfigWithWarnings(resolveConfigFile(opts.config), log, opts.dataDir);
      const dataDir = config.settings.data_dir;
      const owner = readDataDirLock(dataDir);
      if (owner && isSameProcess(owner.pid, owner.startTime)) {
        // The controller leaves tenants running when it exits; once it is gone we own the data dir
        // and stop them ourselves, so both steps are the ones tested elsewhere.
        consola.info(`stopping the controller (pid ${owner.pid})...`);
        process.kill(owner.pid, 'SIGTERM');
        await waitFor(() => !isSameProcess(owner.pid, owner.startTime), {
          timeoutMs: opts.timeout * 1000,
          maxIntervalMs: 100,
          what: `controller pid ${owner.pid} to exit`,
        });
      }
      const lock = acquireDataDirLock(dataDir, { version: VERSION });
      try {
        const { db } = openDatabase(dataDir, { appVersion: VERSION });
        try {
          const store = new InstanceStore(db);
          const running = store.list().filter((r) => r.pid !== null);
          consola.info(`stopping ${running.length} instance${running.length === 1 ? '' : 's'}...`);
          const supervisor = new Supervisor({ config, store, log });
          await supervisor.stopAll();
          supervisor.detach();
          if (await new ManagedCaddy('caddy', dataDir, log, caddyProcessHost()).stop()) consola.info('stopped the managed Caddy');
          consola.success('all instances stopped; `ten serve` starts them again');
        } finally {
          db.close();
        }
      } finally {
        lock.release();
      }
    });
}
