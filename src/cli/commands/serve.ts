import type { Command } from 'commander';
import { Controller, serverFd, type CaddyOptions, type ControllerOptions } from '../../controller/controller.js';
import { HandoverClient, handOver, readUpgradeRequest, writeUpgradeResult } from '../../controller/handover.js';
import { takeInheritedListener } from '../../controller/inherited-listener.js';
import { checkSchemaCompatible } from '../../store/schema-check.js';
import { createLogger, type Logger } from '../../util/logger.js';
import { VERSION } from '../../version.js';
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
  allowEmptyDb?: boolean;
  tls?: boolean;
  email?: string;
  staging?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the controller: supervise instances, keep Caddy routes current, serve the management API')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('-p, --port <port>', "the controller's own listener (API, /health, wake endpoint); ignored under socket activation", parsePort, 8080)
    .option('--host <addr>', "address of the controller's listener", '127.0.0.1')
    .option('-d, --domain <domain>', 'domain tenants are served under: {id}.{service}.{domain}', 'localhost')
    .option('--data-dir <dir>', 'overrides settings.data_dir')
    .option('--caddy-admin <addr>', 'use a Caddy you run: its admin address (http://127.0.0.1:2019 or unix//path); default: tenement runs its own Caddy')
    .option('--caddy-bin <path>', 'caddy binary: runs the managed Caddy; with --caddy-admin, only asked its version (to use 2.7+ features)')
    .option('--http-port <port>', 'public HTTP port of the managed Caddy', parsePort, 8000)
    .option('--http-host <addr>', 'address the managed Caddy listens on (0.0.0.0 for the world)', '127.0.0.1')
    .option('--caddy-access-log <file>', "external Caddy: its JSON access log file (default: found in Caddy's logging config)")
    .option('--no-caddy', 'run without Caddy (supervision and API only)')
    .option('--allow-empty-db', 'start on an empty or missing tenement.db even though the data dir was used before (tokens, audit and instance records are lost)')
    .option('--tls', 'serve HTTPS in the managed Caddy ([settings.tls] enabled = true); HTTP redirects to it')
    .option('--email <address>', "ACME account email for Let's Encrypt ([settings.tls] acme_email)")
    .option('--staging', "use Let's Encrypt's staging CA ([settings.tls] staging = true)")
    .addHelpText(
      'after',
      `
Signals: SIGTERM/SIGINT stop the controller and leave tenants running (the next controller adopts
them); SIGHUP reloads the config; SIGUSR2 upgrades in place (see \`ten upgrade\`).
Socket activation: with LISTEN_FDS (systemd), the controller listens on the inherited socket.`,
    )
    .action(async (opts: ServeOptions) => {
      const log = createLogger();
      const caddy: CaddyOptions = !opts.caddy
        ? { mode: 'none' }
        : opts.caddyAdmin
          ? { mode: 'external', admin: opts.caddyAdmin, accessLog: opts.caddyAccessLog, bin: opts.caddyBin }
          : { mode: 'managed', bin: opts.caddyBin ?? 'caddy', httpPort: opts.httpPort, httpHost: opts.httpHost };
      const listener = takeInheritedListener();
      if (listener) {
        log.info('using an inherited listening socket', { fd: listener.fd, source: listener.source });
      }
      const handover = HandoverClient.fromEnv();
      const base: ControllerOptions = {
        configFile: resolveConfigFile(opts.config),
        dataDir: opts.dataDir,
        host: opts.host,
        port: opts.port,
        domain: opts.domain,
        caddy,
        log,
        listener,
        // Kept for the whole life of the process, also when it serves again on its own socket
        // after a failed upgrade.
        noInherit: listener?.fds ?? [],
        allowEmptyDb: opts.allowEmptyDb === true,
        tls: { enabled: opts.tls, email: opts.email, staging: opts.staging },
      };
      // One listener per signal for the whole life of the process: signals that arrive while
      // starting are kept for when the controller is up (the default action would exit at once),
      // and listeners are never swapped (libuv drops a signal caught just before its handle closes).
      const early: NodeJS.Signals[] = [];
      let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
      for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const) {
        process.on(sig, (signal: NodeJS.Signals) => (onSignal ? onSignal(signal) : early.push(signal)));
      }
      const handleSignals = (fn: (signal: NodeJS.Signals) => void) => {
        onSignal = fn;
        for (const signal of early.splice(0)) fn(signal);
      };
      let controller: Controller;
      try {
        controller = await Controller.start({
          ...base,
          beforeLock: handover
            ? async (dataDir) => {
                checkSchemaCompatible(dataDir);
                await handover.waitForRelease(VERSION);
              }
            : undefined,
        });
      } catch (err) {
        handover?.failed((err as Error).message);
        throw err;
      }
      handover?.ready(VERSION);
      await runUntilStopped(controller, base, log, handleSignals);
    });
}

/** Serves until SIGTERM/SIGINT, or until an upgrade hands over to a new controller. */
async function runUntilStopped(first: Controller, base: ControllerOptions, log: Logger, handleSignals: (fn: (signal: NodeJS.Signals) => void) => void): Promise<void> {
  let controller = first;
  let busy = false;
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (busy) return;
      busy = true;
      log.info('signal received: stopping the controller, tenants keep running', { signal });
      controller.close().then(resolve, (err: Error) => {
        log.error('error while stopping', { error: err.message });
        resolve();
      });
    };
    const upgrade = async () => {
      if (busy) return;
      busy = true;
      const dataDir = controller.currentConfig.settings.data_dir;
      const request = readUpgradeRequest(dataDir);
      const bin = request?.bin ?? process.argv[1]!;
      const from = { pid: process.pid, version: VERSION };
      try {
        const to = await handOver({ bin, listenerFd: serverFd(controller.server!), release: () => controller.close(), log });
        writeUpgradeResult(dataDir, { ok: true, from, to: { pid: to.pid, version: to.version }, at: new Date().toISOString() });
        log.info('upgrade complete: the new controller is serving; exiting', { newPid: to.pid, newVersion: to.version });
        resolve();
      } catch (err) {
        const error = (err as Error).message;
        log.error('upgrade failed', { error });
        writeUpgradeResult(dataDir, { ok: false, from, error, at: new Date().toISOString() });
        if ((err as { released?: boolean }).released) {
          // We had already let go: serve again, binding the port ourselves.
          log.warn('taking the data dir back after the failed upgrade');
          controller = await Controller.start({ ...base, listener: undefined });
        }
        busy = false;
      }
    };
    handleSignals((signal) => {
      if (signal === 'SIGUSR2') void upgrade();
      // SIGHUP means "reload the config" (systemctl reload), not Node's default exit.
      else if (signal === 'SIGHUP') void controller.reloader?.reload('SIGHUP');
      else stop(signal);
    });
  });
}
