// Starting a tenant process so that it does not depend on the controller: its own session and
// process group, stdout/stderr appended to files (no pipes to the controller), no stdin.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readProcStartTime } from '../util/proc.js';
import { fdsToMask } from '../controller/inherited-listener.js';

/**
 * stdio entries that cover the controller's inherited listening socket(s) with /dev/null in the
 * child. Inherited descriptors are not close-on-exec: a tenant (or Caddy) holding the controller's
 * socket would keep it open after the controller died, and connections would queue unanswered.
 */
export function maskedStdio(): Array<number | 'ignore'> {
  const masks = fdsToMask();
  if (masks.length === 0) return [];
  const top = Math.max(...masks);
  const devNull = fs.openSync('/dev/null', 'r');
  const extra: Array<number | 'ignore'> = [];
  for (let fd = 3; fd <= top; fd++) extra.push(masks.includes(fd) ? devNull : 'ignore');
  // The parent's copy is closed after spawn by the caller through closeMasked().
  return extra;
}

export function closeMasked(stdio: Array<number | 'ignore'>): void {
  const seen = new Set<number>();
  for (const s of stdio) if (typeof s === 'number' && !seen.has(s)) {
    seen.add(s);
    fs.closeSync(s);
  }
}

export interface LaunchSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdoutLog: string;
  stderrLog: string;
}

export interface Launched {
  pid: number;
  startTime: string | null;
  child: ChildProcess;
}

export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}

export async function launch(spec: LaunchSpec): Promise<Launched> {
  // Captured output is the controller's: the tenant writes it through its stdout/stderr only.
  fs.mkdirSync(path.dirname(spec.stdoutLog), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(spec.stderrLog), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(spec.cwd)) throw new LaunchError(`working directory ${spec.cwd} does not exist`);
  const out = fs.openSync(spec.stdoutLog, 'a', 0o600);
  const err = fs.openSync(spec.stderrLog, 'a', 0o600);
  const masks = maskedStdio();
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
        reject(new LaunchError(`could not start ${spec.file}: ${hint}`));
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

/** The last `lines` lines of a log file, for error messages about a process that died. */
export function tailFile(file: string, lines = 10, maxBytes = 8192): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').filter((l) => l.length > 0).slice(-lines);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}
