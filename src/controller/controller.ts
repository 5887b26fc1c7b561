// Wires the parts of a running controller together: config -> store -> supervisor -> API.
// It owns the data-dir lock for its whole life and releases it last.
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { loadConfig } from '../config/load.js';
import { formatIssue } from '../config/errors.js';
import type { Config } from '../config/types.js';
import { openDatabase } from '../store/database.js';
import { acquireDataDirLock, type DataDirLock } from '../store/data-dir-lock.js';
import { InstanceStore } from '../store/instance-store.js';
import { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { createApi } from '../api/app.js';
import { VERSION } from '../version.js';

export interface ControllerOptions {
  configFile: string;
  /** Overrides settings.data_dir. */
  dataDir?: string | undefined;
  host: string;
  port: number;
  domain: string;
  log: Logger;
}

/** Loads the config and reports its warnings; every start says what is accepted but not enforced. */
export function loadConfigWithWarnings(file: string, log: Logger, dataDir?: string): Config {
  const { config, warnings } = loadConfig(file);
  for (const w of warnings) log.warn(formatIssue(w), { file: w.file, line: w.line, key: w.key });
  if (dataDir) config.settings.data_dir = dataDir;
  return config;
}

export class Controller {
  private constructor(
    readonly config: Config,
    readonly supervisor: Supervisor,
    private readonly server: Server,
    private readonly lock: DataDirLock,
    private readonly closeDb: () => void,
    private readonly log: Logger,
  ) {}

  static async start(opts: ControllerOptions): Promise<Controller> {
    const log = opts.log;
    const config = loadConfigWithWarnings(opts.configFile, log, opts.dataDir);
    const dataDir = config.settings.data_dir;
    const lock = acquireDataDirLock(dataDir);
    let closeDb: (() => void) | undefined;
    try {
      const opened = openDatabase(dataDir, { appVersion: VERSION });
      closeDb = () => opened.db.close();
      if (opened.migratedFrom !== undefined) {
        log.info('database migrated', { from: opened.migratedFrom, backup: opened.backup ?? null, path: opened.path });
      }
      const store = new InstanceStore(opened.db);
      const supervisor = new Supervisor({ config, store, log });
      await supervisor.start();
      const api = createApi({ supervisor, startedAt: Date.now() });
      const server = createAdaptorServer({ fetch: api.fetch }) as Server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new Error(`cannot listen on ${opts.host}:${opts.port}: ${err.code === 'EADDRINUSE' ? 'address already in use (another controller? use --port)' : err.message}`)),
        );
        server.listen(opts.port, opts.host, () => resolve());
      });
      log.info('controller ready', { version: VERSION, listen: `${opts.host}:${opts.port}`, domain: opts.domain, dataDir, config: config.file });
      return new Controller(config, supervisor, server, lock, closeDb, log);
    } catch (err) {
      closeDb?.();
      lock.release();
      throw err;
    }
  }

  /** Stops the controller and leaves every tenant running, for the next controller to adopt. */
  async close(): Promise<void> {
    this.supervisor.detach();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
    this.closeDb();
    this.lock.release();
    this.log.info('controller stopped; tenants left running');
  }
}
