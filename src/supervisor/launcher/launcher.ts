// Starting tenants from a small helper process instead of the controller itself.
//
// Why: spawning forks the caller, and fork copies the caller's page tables: from a controller of
// ~100 MB a spawn blocked its event loop for 3-6 ms (20 ms at 360 MB), during which no request,
// health check or route push was served; a storm of 100 wakes queued 0.5 s of it. The launcher is
// a Node process that only spawns (~40 MB, most of it the node binary shared with the controller),
// so its forks take ~1 ms and run on another core while the controller goes on.
//
// The tenants are the launcher's children: it reports their exits (code and signal) back. When the
// controller exits, the channel closes and the launcher exits too, leaving the detached tenants to
// the next controller (adoption, as before). When the launcher dies while the controller runs (it
// should not), the starts in flight fail with that reason, the next start forks a new launcher,
// and the tenants it had started are watched through /proc until they exit (status unknown).
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CONTROLLER_NODE_FLAGS } from '../../cli/node-flags.js';
import type { Logger } from '../../util/logger.js';
import { isSameProcess } from '../../util/proc.js';
import type { LaunchSpec } from '../runtime/runtime.js';
import { closeMasked, maskedStdio } from '../masked-stdio.js';
import type { CommandResult } from '../../util/command-runner.js';
import { isLauncherReply, type FailedReply, type LauncherReply, type LauncherRequest, type RanReply, type SpawnedReply } from './protocol.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const ENTRY = fileURLToPath(new URL('./launcher-process.js', import.meta.url));

type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

/**
 * A process started by the launcher, as its parent sees it: it reports the exit. The exit may
 * arrive in the same read as the answer to the start, before the caller has had a chance to
 * listen: it is kept, and a listener added after it is called with it.
 */
export class LaunchedChild {
  private readonly events = new EventEmitter<{ exit: Parameters<ExitListener> }>();
  private exited: Parameters<ExitListener> | undefined;

  constructor(
    readonly pid: number,
    readonly startTime: string | null,
  ) {}

  /** How it ended, once the launcher said so. */
  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exited && { code: this.exited[0], signal: this.exited[1] };
  }

  once(event: 'exit', listener: ExitListener): this {
    const done = this.exited;
    if (done) queueMicrotask(() => listener(...done));
    else this.events.once(event, listener);
    return this;
  }

  off(event: 'exit', listener: ExitListener): this {
    this.events.off(event, listener);
    return this;
  }

  /** Called once, by the launcher client. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = [code, signal];
    this.events.emit('exit', code, signal);
  }
}

export interface LauncherStart {
  pid: number;
  startTime: string | null;
  child: LaunchedChild;
}

/** Why a start through the launcher failed: the errno code (ENOENT...) when the spawn said one. */
export class LauncherSpawnError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'LauncherSpawnError';
  }
}

export interface LauncherOptions {
  /** Descriptors the launcher (and so every tenant) must not inherit: the controller's listener. */
  noInherit?: readonly number[];
  log?: Logger;
  /** How often a tenant orphaned by a dead launcher is checked in /proc. */
  orphanPollMs?: number;
}

interface Answer {
  reply: SpawnedReply | FailedReply | RanReply;
  /** For a start: made as the answer arrived, so an exit in the same read finds it. */
  child?: LaunchedChild;
}

interface Pending {
  resolve: (answer: Answer) => void;
  reject: (e: Error) => void;
  /** The launcher process it was sent to (a dying one may overlap its successor). */
  via: ChildProcess;
}

export class Launcher {
  private proc: ChildProcess | undefined;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly children = new Map<number, { child: LaunchedChild; via: ChildProcess }>();
  private closed = false;

  constructor(private readonly opts: LauncherOptions = {}) {}

  /** The launcher's pid once it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the launcher now rather than on the first spawn (which would wait ~50 ms for it). */
  warm(): void {
    if (!this.closed) this.ensure();
  }

  spawn(spec: LaunchSpec): Promise<LauncherStart> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec.env)) if (v !== undefined) env[k] = v;
    return this.request({ type: 'spawn', file: spec.file, args: spec.args, env, cwd: spec.cwd, stdoutLog: spec.stdoutLog, stderrLog: spec.stderrLog }).then(({ reply, child }) => {
      if (reply.type === 'failed') throw new LauncherSpawnError(reply.message, reply.code);
      if (reply.type !== 'spawned' || !child) throw new LauncherSpawnError(`the launcher answered ${reply.type} to a start`, undefined);
      return { pid: reply.pid, startTime: reply.startTime, child };
    });
  }

  /** Runs a short command to its end in the launcher (a CommandRunner: nft runs this way). */
  run(file: string, args: string[], input: string, timeoutMs: number): Promise<CommandResult> {
    return this.request({ type: 'run', file, args, input, timeoutMs }).then(({ reply }) => {
      if (reply.type !== 'ran') throw new LauncherSpawnError(`the launcher answered ${reply.type} to a command`, undefined);
      return { code: reply.code, signal: reply.signal, stderr: reply.stderr, error: reply.error };
    });
  }

  private request(req: DistributiveOmit<LauncherRequest, 'seq'>): Promise<Answer> {
    if (this.closed) return Promise.reject(new LauncherSpawnError('the launcher is closed (the controller is shutting down)', undefined));
    let proc: ChildProcess;
    try {
      proc = this.ensure();
    } catch (e) {
      return Promise.reject(new LauncherSpawnError(`the launcher process could not be started: ${(e as Error).message}`, undefined));
    }
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject, via: proc });
      // Keeps the controller alive while an answer is due, and only then.
      proc.channel?.ref();
      proc.send({ ...req, seq } as LauncherRequest, (err) => {
        if (err) this.settle(seq, new LauncherSpawnError(`the launcher did not take the request: ${err.message}`, undefined));
      });
    });
  }

  /** Lets the launcher exit (the tenants keep running). */
  close(): void {
    this.closed = true;
    if (this.proc?.connected) this.proc.disconnect();
  }

  private ensure(): ChildProcess {
    if (this.proc && this.proc.connected) return this.proc;
    const masks = maskedStdio(this.opts.noInherit ?? []);
    let proc: ChildProcess;
    try {
      proc = fork(ENTRY, [], {
        execArgv: [...CONTROLLER_NODE_FLAGS],
        // A crash message goes where the controller's own output goes.
        stdio: ['ignore', 'ignore', 'inherit', ...masks, 'ipc'],
        serialization: 'json',
      });
    } finally {
      closeMasked(masks);
    }
    this.proc = proc;
    proc.on('message', (m: unknown) => {
      if (isLauncherReply(m)) this.onReply(m);
    });
    proc.once('exit', (code, signal) => this.onLauncherExit(proc, code, signal));
    proc.once('error', (e) => this.opts.log?.warn('launcher process error', { error: e.message }));
    // The controller must be able to exit without waiting for it.
    proc.unref();
    proc.channel?.unref();
    return proc;
  }

  private onReply(m: LauncherReply): void {
    if (m.type === 'exited') {
      const entry = this.children.get(m.pid);
      this.children.delete(m.pid);
      entry?.child.exit(m.code, m.signal);
      return;
    }
    let child: LaunchedChild | undefined;
    const via = this.pending.get(m.seq)?.via;
    if (m.type === 'spawned' && via) {
      child = new LaunchedChild(m.pid, m.startTime);
      this.children.set(m.pid, { child, via });
    }
    this.settle(m.seq, { reply: m, ...(child ? { child } : {}) });
  }

  private settle(seq: number, outcome: Answer | Error): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.proc?.channel?.unref();
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private onLauncherExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc === proc) this.proc = undefined;
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    // Only what went through this one: a successor may already be running (forked while it died).
    const orphans = [...this.children].filter(([, e]) => e.via === proc);
    if (!this.closed) this.opts.log?.warn('launcher process ended; the next start forks a new one', { reason: why, orphans: orphans.length });
    for (const [seq, p] of [...this.pending]) if (p.via === proc) this.settle(seq, new LauncherSpawnError(`the launcher process ${why} before it answered`, undefined));
    // Its tenants were reparented: their exit can only be seen in /proc now.
    for (const [pid, e] of orphans) {
      this.children.delete(pid);
      this.pollOrphan(e.child);
    }
  }

  private pollOrphan(child: LaunchedChild): void {
    const timer = setInterval(() => {
      if (isSameProcess(child.pid, child.startTime)) return;
      clearInterval(timer);
      child.exit(null, null);
    }, this.opts.orphanPollMs ?? 500);
    timer.unref();
  }
}
