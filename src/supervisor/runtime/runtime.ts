// The launch step as an interface: how an instance's process is started, stopped and checked.
// Each way of running a tenant (a plain process today; namespaces, ... later) is one file in this
// folder implementing `Runtime`; `registry.ts` picks one from the service's `isolation` value.
// The supervisor only ever talks to this interface, so a new runtime is a new file, not a new branch.
import type { ServiceConfig } from '../../config/types.js';

/** Which instance a launch is for: what an isolating runtime needs besides argv and env. */
export interface LaunchInstance {
  service: string;
  id: string;
  port: number;
  /** The instance's own directory (DATA_DIR unless the service env sets it). */
  instanceDir: string;
  config: ServiceConfig;
}

/** Exactly what to run for one instance: argv, environment, folder and where its output goes. */
export interface LaunchSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdoutLog: string;
  stderrLog: string;
  /** Absent for processes that are not instances (the managed Caddy). */
  instance?: LaunchInstance;
}

export interface LaunchedProcess {
  pid: number;
  /** Field 22 of /proc/PID/stat: with the pid, the identity that survives controller restarts. */
  startTime: string | null;
  /** Reports the exit while this controller (or its launcher) is the parent; adopted processes have none. */
  child: ExitSource;
}

/** What reports a launched process's exit with its status: its ChildProcess, or the launcher for it. */
export interface ExitSource {
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  off(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

export interface StopResult {
  /** True when SIGTERM was not enough and the process had to be killed. */
  killed: boolean;
}

export interface Runtime {
  /** The `isolation` value this runtime implements (for logs and errors). */
  readonly name: string;
  /**
   * Starts the process detached from the controller (its own session, output to files), so that it
   * keeps running when the controller exits. Rejects with a `LaunchError` when it cannot start.
   */
  launch(spec: LaunchSpec): Promise<LaunchedProcess>;
  /** Whether any process launched as `pid` (it and what it started) is still there. */
  alive(pid: number): boolean;
  /** Asks the process (and what it started) to stop, then kills it after `timeoutMs`. */
  stop(pid: number, timeoutMs: number): Promise<StopResult>;
  /** Kills the process and everything it started, at once. */
  kill(pid: number): void;
}

export class LaunchError extends Error {
  constructor(
    message: string,
    /** The errno code of the failed spawn (e.g. ENOENT), when there was one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}
