import type { Command } from 'commander';
import { Controller } from '../../controller/controller.js';
import { createLogger } from '../../util/logger.js';
import { resolveConfigFile } from '../config-file.js';
import { parsePort } from '../parse.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the controller: supervise instances and serve the management API')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('-p, --port <port>', "the controller's own listener (API, /health, wake endpoint)", parsePort, 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('-d, --domain <domain>', 'domain tenants are served under', 'localhost')
    .option('--data-dir <dir>', 'overrides settings.data_dir')
    .action(async (opts: { config?: string; port: number; host: string; domain: string; dataDir?: string }) => {
      const log = createLogger();
      const controller = await Controller.start({
        configFile: resolveConfigFile(opts.config),
        dataDir: opts.dataDir,
        host: opts.host,
        port: opts.port,
        domain: opts.domain,
        log,
      });
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          log.info('signal received: stopping the controller, tenants keep running', { signal });
          controller.close().then(resolve, (err: Error) => {
            log.error('error while stopping', { error: err.message });
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
