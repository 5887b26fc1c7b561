// isolation = "process": the tenant is an ordinary process in its own session and process group
// (so signals reach everything it started), with stdout/stderr appended to files (no pipes to the
// controller) and no stdin. With `isolation` (every instance, when the controller wires it), it runs
// under its own uid, with a clean environment, in its cgroup: see src/isolation/tenant-isolation.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TenantIsolation } from '../../isolation/tenant-isolation.js';
import { readProcStartTime } from '../../util/proc.js';
import { LauncherSpawnError, type Launcher } from '../launcher/launcher.js';
import { closeMasked, maskedStdio } from '../masked-stdio.js';
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
  /** Starts the processes instead of this process (src/supervisor/launcher/launcher.ts); absent: spawned here. */
  launcher?: Launcher | undefined;
}

export class ProcessRuntime implements Runtime {
  readonly name: string = 'process';
  private readonly noInherit: readonly number[];
  protected readonly isolation: TenantIsolation | undefined;
  private readonly launcher: Launcher | undefined;

  constructor(opts: ProcessRuntimeOptions = {}) {
    this.noInherit = [...(opts.noInherit ?? [])];
    this.isolation = opts.isolation;
    this.launcher = opts.launcher;
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
    const failed = (code: string | undefined, message: string) => {
      const hint = code === 'ENOENT' ? `command "${spec.file}" not found (PATH=${spec.env.PATH ?? ''})` : message;
      return new LaunchError(`could not start ${spec.file}: ${hint}`, code);
    };
    if (this.launcher) {
      try {
        return await this.launcher.spawn(spec);
      } catch (e) {
        if (e instanceof LauncherSpawnError) throw failed(e.code, e.message);
        throw e;
      }
    }
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
        child.once('error', (e: NodeJS.ErrnoException) => reject(failed(e.code, e.message)));
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
