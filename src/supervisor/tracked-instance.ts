// What the supervisor keeps in memory for one instance: its live process handle and timers.
// Everything else about the instance is in the store.
import type { Logger } from '../util/logger.js';
import type { ExitWatch } from './exit-watch.js';
import type { ExitSource } from './runtime/runtime.js';

export class TrackedInstance {
  readonly name: string;
  pid: number | null = null;
  startTime: string | null = null;
  /** Present only for processes this controller spawned (adopted ones are not our children). */
  child: ExitSource | undefined;
  exitWatch: ExitWatch | undefined;
  healthTimer: NodeJS.Timeout | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  /** Set while we stop the process ourselves, so its exit is not mistaken for a crash. */
  stopping = false;
  /** The start in progress, shared by every caller that needs the instance up (wake, spawn). */
  starting: Promise<void> | undefined;
  /** Tail of this instance's operation queue. */
  queue: Promise<void> = Promise.resolve();

  constructor(
    readonly service: string,
    readonly id: string,
    readonly log: Logger,
  ) {
    this.name = `${service}:${id}`;
  }

  /** Runs operations on this instance one at a time; other instances are never delayed by it. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  stopHealthLoop(): void {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
  }

  /**
   * The process is gone: forget it, and its exit watch, whose listener holds the ChildProcess (its
   * argv and environment) for as long as the watch is kept: ~5 KB per sleeping instance.
   */
  clearProcess(): void {
    this.exitWatch?.cancel();
    this.exitWatch = undefined;
    this.pid = null;
    this.startTime = null;
    this.child = undefined;
  }

  /** Drops timers and listeners; the process itself is left alone. */
  dispose(): void {
    this.stopHealthLoop();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.exitWatch?.cancel();
    this.exitWatch = undefined;
  }
}
