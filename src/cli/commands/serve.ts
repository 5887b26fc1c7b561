import type { Command } from 'commander';
import { Controller, type CaddyOptions } from '../../controller/controller.js';
import { createLogger } from '../../util/logger.js';
import { resolveConfigFile } from '../config-file.js';
import { parsePort } from '../parse.js';

interface ServeOptions {
  config?: string;
  port: number;
  host: string;
  domain: string;
  dataDir?: string;
  caddy: boolean;
  caddyAdmin?: string;
  caddyBin?: string;
  caddyAccessLog?: string;
  httpPort: number;
  httpHost: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the controller: supervise instances, keep Caddy routes current, serve the management API')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('-p, --port <port>', "the controller's own listener (API, /health, wake endpoint)", parsePort, 8080)
    .option('--host <addr>', "address of the controller's listener", '127.0.0.1')
    .option('-d, --domain <domain>', 'domain tenants are served under: {id}.{service}.{domain}', 'localhost')
    .option('--data-dir <dir>', 'overrides settings.data_dir')
    .option('--caddy-admin <addr>', "use a Caddy you run: its admin address (http://127.0.0.1:2019 or unix//path); default: tenement runs its own Caddy")
    .option('--caddy-bin <path>', 'caddy binary for the managed Caddy', 'caddy')
    .option('--http-port <port>', 'public HTTP port of the managed Caddy', parsePort, 8000)
    .option('--http-host <addr>', 'address the managed Caddy listens on (0.0.0.0 for the world)', '127.0.0.1')
    .option('--caddy-access-log <file>', "external Caddy: its JSON access log file (default: found in Caddy's logging config)")
    .option('--no-caddy', 'run without Caddy (supervision and API only)')
    .action(async (opts: ServeOptions) => {
      const log = createLogger();
      const caddy: CaddyOptions = !opts.caddy
        ? { mode: 'none' }
        : opts.caddyAdmin
          ? { mode: 'external', admin: opts.caddyAdmin, accessLog: opts.caddyAccessLog }
          : { mode: 'managed', bin: opts.caddyBin, httpPort: opts.httpPort, httpHost: opts.httpHost };
      const controller = await Controller.start({
        configFile: resolveConfigFile(opts.config),
        dataDir: opts.dataDir,
        host: opts.host,
        port: opts.port,
        domain: opts.domain,
        caddy,
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
