// A Caddy that tenement starts itself. It runs detached (own session, output to a file) like a
// tenant, so a controller restart or upgrade never restarts it: the next controller adopts it by
// pid + start time, exactly as it adopts tenants.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../src/util/logger.js';
import { isSameProcess, readProcStartTime } from '../src/util/proc.js';
import { stopGroup } from '../src/supervisor/process-group.js';
import { closeMasked, maskedStdio } from '../src/supervisor/launch.js';
import { waitFor } from '../src/util/wait.js';
import { CaddyAdminClient } from './admin-client.js';

export interface ManagedCaddyPaths {
  dir: string;
  adminSocket: string;
  configFile: string;
  pidFile: string;
  logFile: string;
  accessLog: string;
}

export function managedCaddyPaths(dataDir: string): ManagedCaddyPaths {
  const dir = path.join(dataDir, '_caddy');
  return {
    dir,
    adminSocket: path.join(dir, 'admin.sock'),
    configFile: path.join(dir, 'caddy.json'),
    pidFile: path.join(dir, 'caddy.pid'),
    logFile: path.join(dir, 'caddy.log'),
    accessLog: path.join(dir, 'access.log'),
  };
}

interface PidRecord {
  pid: number;
  startTime: string | null;
}

// sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107;

export class ManagedCaddy {
  readonly paths: ManagedCaddyPaths;
  readonly admin: CaddyAdminClient;

  constructor(
    private readonly bin: string,
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.paths = managedCaddyPaths(dataDir);
    if (Buffer.byteLength(this.paths.adminSocket) > MAX_SOCKET_PATH) {
      throw new Error(
        `the Caddy admin socket path ${this.paths.adminSocket} is longer than ${MAX_SOCKET_PATH} bytes (a unix socket limit); use a shorter --data-dir`,
      );
    }
    this.admin = new CaddyAdminClient(this.adminAddress);
  }

  get adminAddress(): string {
    return `unix/${this.paths.adminSocket}`;
  }

  /** The pid of our Caddy if it is running, else null. */
  runningPid(): number | null {
    try {
      const rec = JSON.parse(fs.readFileSync(this.paths.pidFile, 'utf8')) as PidRecord;
      return isSameProcess(rec.pid, rec.startTime) ? rec.pid : null;
    } catch {
      return null;
    }
  }

  /** Saves the config a (re)started Caddy loads, atomically (a string is saved as it is). */
  saveConfig(config: unknown): void {
    fs.mkdirSync(this.paths.dir, { recursive: true });
    const tmp = `${this.paths.configFile}.tmp`;
    fs.writeFileSync(tmp, typeof config === 'string' ? config : JSON.stringify(config));
    fs.renameSync(tmp, this.paths.configFile);
  }

  /**
   * Adopts the running Caddy, or starts one with `config` and waits until its admin API answers.
   * Returns whether it was adopted.
   */
  async ensure(config: unknown, timeoutMs = 15_000): Promise<{ adopted: boolean; pid: number }> {
    const running = this.runningPid();
    if (running !== null) {
      this.log.info('adopted running Caddy', { pid: running, admin: this.adminAddress });
      return { adopted: true, pid: running };
    }
    this.saveConfig(config);
    fs.rmSync(this.paths.adminSocket, { force: true });
    const out = fs.openSync(this.paths.logFile, 'a');
    const masks = maskedStdio();
    let pid: number;
    try {
      const child = spawn(this.bin, ['run', '--config', this.paths.configFile], {
        detached: true,
        stdio: ['ignore', out, out, ...masks],
        env: {
          ...process.env,
          // Certificates and Caddy's own state stay in the data dir, not in $HOME.
          XDG_DATA_HOME: path.join(this.paths.dir, 'data'),
          XDG_CONFIG_HOME: path.join(this.paths.dir, 'config'),
        },
      });
      pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new Error(
              err.code === 'ENOENT'
                ? `caddy binary "${this.bin}" not found: install Caddy (apt-get install -y caddy) or pass --caddy-bin`
                : `could not start caddy: ${err.message}`,
            ),
          ),
        );
      });
      child.unref();
    } finally {
      fs.closeSync(out);
      closeMasked(masks);
    }
    const rec: PidRecord = { pid, startTime: readProcStartTime(pid) };
    fs.writeFileSync(this.paths.pidFile, JSON.stringify(rec));
    try {
      await waitFor(
        async () => {
          if (!isSameProcess(pid, rec.startTime)) {
            throw new Error(`caddy exited during start; see ${this.paths.logFile}:\n${tail(this.paths.logFile)}`);
          }
          return this.admin.reachable();
        },
        { timeoutMs, what: 'Caddy admin API', maxIntervalMs: 50 },
      );
    } catch (err) {
      await stopGroup(pid, 2000).catch(() => undefined);
      throw err;
    }
    this.log.info('started Caddy', { pid, admin: this.adminAddress, log: this.paths.logFile });
    return { adopted: false, pid };
  }

  /** Stops our Caddy (`ten down`). */
  async stop(timeoutMs = 10_000): Promise<boolean> {
    const pid = this.runningPid();
    if (pid === null) return false;
    await stopGroup(pid, timeoutMs);
    fs.rmSync(this.paths.pidFile, { force: true });
    return true;
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}
