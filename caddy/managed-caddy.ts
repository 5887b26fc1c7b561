// A Caddy that tenement starts itself. It runs detached (own session, output to a file) like a
// tenant, so a controller restart or upgrade never restarts it: the next controller adopts it by
// pid + start time, exactly as it adopts tenants. Starting and stopping processes is tenement's
// job (src/), handed in as a CaddyProcessHost: caddy/ imports nothing from src/.
import fs from 'node:fs';
import path from 'node:path';
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

/** What the managed Caddy needs from whoever starts processes. */
export interface CaddyProcessHost {
  /**
   * Starts `file args` detached from the controller (own session), output appended to the log
   * files. Rejects with an error whose `code` is the errno of a failed spawn (ENOENT: not found).
   */
  launch(spec: { file: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string; stdoutLog: string; stderrLog: string }): Promise<{
    pid: number;
    startTime: string | null;
  }>;
  /** Whether `pid` is still the process that started at `startTime` (not a reused pid). */
  isSame(pid: number, startTime: string | null): boolean;
  /** SIGTERM to the process and what it started, SIGKILL after `timeoutMs`. */
  stop(pid: number, timeoutMs: number): Promise<unknown>;
}

export interface CaddyLog {
  info(msg: string, fields?: Record<string, unknown>): void;
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
    private readonly log: CaddyLog,
    private readonly host: CaddyProcessHost,
  ) {
    this.paths = managedCaddyPaths(dataDir);
    if (Buffer.byteLength(this.paths.adminSocket) > MAX_SOCKET_PATH) {
      throw new Error(`the Caddy admin socket path ${this.paths.adminSocket} is longer than ${MAX_SOCKET_PATH} bytes (a unix socket limit); use a shorter --data-dir`);
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
      return this.host.isSame(rec.pid, rec.startTime) ? rec.pid : null;
    } catch {
      return null;
    }
  }

  /** Saves the config a (re)started Caddy loads, atomically (a string is saved as it is). */
  saveConfig(config: unknown): void {
    // The config holds the wake key: readable by the controller's user only.
    fs.mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    const tmp = this.tmpFile();
    fs.writeFileSync(tmp, typeof config === 'string' ? config : JSON.stringify(config), { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, this.paths.configFile);
  }

  /** saveConfig off the event loop (a route push saves while Caddy loads the same bytes). */
  async saveConfigAsync(json: string): Promise<void> {
    await fs.promises.mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    const tmp = this.tmpFile();
    await fs.promises.writeFile(tmp, json, { mode: 0o600 });
    await fs.promises.chmod(tmp, 0o600);
    await fs.promises.rename(tmp, this.paths.configFile);
  }

  private saves = 0;

  /** One temporary name per save: a save at Caddy's (re)start may overlap a push's. */
  private tmpFile(): string {
    return `${this.paths.configFile}.${process.pid}.${++this.saves}.tmp`;
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
    let launched: PidRecord;
    try {
      launched = await this.host.launch({
        file: this.bin,
        args: ['run', '--config', this.paths.configFile],
        env: {
          ...process.env,
          // Certificates and Caddy's own state stay in the data dir, not in $HOME.
          XDG_DATA_HOME: path.join(this.paths.dir, 'data'),
          XDG_CONFIG_HOME: path.join(this.paths.dir, 'config'),
        },
        cwd: process.cwd(),
        stdoutLog: this.paths.logFile,
        stderrLog: this.paths.logFile,
      });
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw new Error(
        e.code === 'ENOENT' ? `caddy binary "${this.bin}" not found: install Caddy (apt-get install -y caddy) or pass --caddy-bin` : `could not start caddy: ${e.message}`,
        { cause: err },
      );
    }
    const { pid } = launched;
    const rec: PidRecord = { pid, startTime: launched.startTime };
    fs.writeFileSync(this.paths.pidFile, JSON.stringify(rec));
    try {
      await this.untilAdminAnswers(pid, rec.startTime, timeoutMs);
    } catch (err) {
      await this.host.stop(pid, 2000).catch(() => undefined);
      throw err;
    }
    this.log.info('started Caddy', { pid, admin: this.adminAddress, log: this.paths.logFile });
    return { adopted: false, pid };
  }

  private async untilAdminAnswers(pid: number, startTime: string | null, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let interval = 10;
    for (;;) {
      if (!this.host.isSame(pid, startTime)) {
        throw new Error(`caddy exited during start; see ${this.paths.logFile}:\n${tail(this.paths.logFile)}`);
      }
      if (await this.admin.reachable()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for Caddy admin API`);
      await new Promise((r) => setTimeout(r, Math.min(interval, left)));
      interval = Math.min(Math.ceil(interval * 1.5), 50);
    }
  }

  /** Stops our Caddy (`ten down`). */
  async stop(timeoutMs = 10_000): Promise<boolean> {
    const pid = this.runningPid();
    if (pid === null) return false;
    await this.host.stop(pid, timeoutMs);
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
