// isolation = "process": the tenant is an ordinary process of the controller's user, in its own
// session and process group (so signals reach everything it started), with stdout/stderr appended
// to files (no pipes to the controller) and no stdin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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
}

export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  private readonly noInherit: readonly number[];

  constructor(opts: ProcessRuntimeOptions = {}) {
    this.noInherit = [...(opts.noInherit ?? [])];
  }

  async launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    fs.mkdirSync(path.dirname(spec.stdoutLog), { recursive: true });
    fs.mkdirSync(path.dirname(spec.stderrLog), { recursive: true });
    if (!fs.existsSync(spec.cwd)) throw new LaunchError(`working directory ${spec.cwd} does not exist`);
    const out = fs.openSync(spec.stdoutLog, 'a');
    const err = fs.openSync(spec.stderrLog, 'a');
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
