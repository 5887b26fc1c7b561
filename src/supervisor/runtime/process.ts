// isolation = "process": the tenant is an ordinary process in its own session and process group
// (so signals reach everything it started), with stdout/stderr appended to files (no pipes to the
// controller) and no stdin. With `isolation` (every instance, when the controller wires it), it runs
// under its own uid, with a clean environment, in its cgroup: see src/isolation/tenant-isolation.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TenantIsolation } from '../../isolation/tenant-isolation.js';
import { readProcStartTime } from '../../util/proc.js';
import { groupAlive, signalGroup, stopGroup } from '../process-group.js';
import { LaunchError, type LaunchedProcess, type LaunchSpec, type Runtime, type StopResult } from './runtime.js';

export interface ProcessRuntimeOptions {
  /**
   * Descriptors of the controller that no child may keep (its inherited listening socket): they are
   * not close-on-exec, and a tenant holding the controller's socket would keep it open after the
   * controller died, so connections would queue unanswered.
   */
  noInherit?: readonly number[];
  isolation?: TenantIsolation | undefined;
}

export class ProcessRuntime implements Runtime {
  readonly name: string = 'process';
  private readonly noInherit: readonly number[];
  protected readonly isolation: TenantIsolation | undefined;

  constructor(opts: ProcessRuntimeOptions = {}) {
    this.noInherit = [...(opts.noInherit ?? [])];
    this.isolation = opts.isolation;
  }

  async launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    const run = this.isolation && spec.instance ? await this.isolation.prepare(spec, 'process') : spec;
    return this.spawnDetached(run);
  }

  /** Starts exactly `spec` (already isolated, or not an instance). */
  protected async spawnDetached(spec: LaunchSpec): Promise<LaunchedProcess> {
    // Captured output is the controller's: the tenant writes it through its stdout/stderr only.
    fs.mkdirSync(path.dirname(spec.stdoutLog), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(spec.stderrLog), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(spec.cwd)) throw new LaunchError(`working directory ${spec.cwd} does not exist`);
    const out = fs.openSync(spec.stdoutLog, 'a', 0o600);
    const err = fs.openSync(spec.stderrLog, 'a', 0o600);
    const masks = maskedStdio(this.noInherit);
    try {
      const child = spawn(spec.file, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true,
        stdio: ['ignore', out, err, ...masks],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e: NodeJS.ErrnoException) => {
          const hint = e.code === 'ENOENT' ? `command "${spec.file}" not found (PATH=${spec.env.PATH ?? ''})` : e.message;
          reject(new LaunchError(`could not start ${spec.file}: ${hint}`, e.code));
        });
      });
      const pid = child.pid;
      if (pid === undefined) throw new LaunchError(`could not start ${spec.file}: no pid`);
      // The controller must be able to exit without waiting for its tenants.
      child.unref();
      return { pid, startTime: readProcStartTime(pid), child };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
      closeMasked(masks);
    }
  }

  alive(pid: number): boolean {
    return groupAlive(pid);
  }

  stop(pid: number, timeoutMs: number): Promise<StopResult> {
    return stopGroup(pid, timeoutMs);
  }

  kill(pid: number): void {
    signalGroup(pid, 'SIGKILL');
  }
}

/** stdio entries (from fd 3 up) that cover each descriptor in `fds` with /dev/null in the child. */
function maskedStdio(fds: readonly number[]): Array<number | 'ignore'> {
  if (fds.length === 0) return [];
  const top = Math.max(...fds);
  const devNull = fs.openSync('/dev/null', 'r');
  const extra: Array<number | 'ignore'> = [];
  for (let fd = 3; fd <= top; fd++) extra.push(fds.includes(fd) ? devNull : 'ignore');
  return extra;
}

/** Closes the parent's copies of what maskedStdio opened. */
function closeMasked(stdio: Array<number | 'ignore'>): void {
  const seen = new Set<number>();
  for (const s of stdio) {
    if (typeof s === 'number' && !seen.has(s)) {
      seen.add(s);
      fs.closeSync(s);
    }
  }
}
