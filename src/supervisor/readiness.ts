// Waiting for a just-launched process to become healthy: probe it (short polls, since most apps are
// up within tens of milliseconds and every one counts on a wake; see nextInterval) until it passes,
// its process exits, or `startup_timeout` runs out.
//
// Until the port accepts connections a bare TCP connect asks; the HTTP health check only once it
// does. A refused HTTP probe costs an HTTP client request and an error with a stack trace, and a
// storm of 100 wakes made thousands of them: most of the controller's CPU during the storm.
import { TimeoutError } from '../util/wait.js';
import { probe as defaultProbe, probeTcp, type ProbeResult } from './health-probe.js';

/** Thrown when the process exited while it was being waited for (the caller knows how). */
export class ExitedBeforeReadyError extends Error {
  constructor() {
    super('exited');
    this.name = 'ExitedBeforeReadyError';
  }
}

export interface ReadinessTarget {
  port: number;
  /** The service's `health` path; a TCP connect when absent. */
  health: string | undefined;
  startupTimeoutS: number;
  /** True once the process is known to have exited. */
  exited: () => boolean;
}

/** Starts being waited for right now, across the process: they share a probe budget. */
let waiting = 0;

/**
 * Pause between two TCP connects of one start: 1 ms, growing to a cap of 2 ms, so an app is seen
 * listening at most ~2 ms after it is (a wake waits for exactly that; a refused connect costs the
 * app nothing, the kernel answers it). With many starts at once (a wake storm, a batch of spawns)
 * the cap grows so that all of them together probe about 1,000 times a second: then the CPU, not
 * the polling, is what a start waits for.
 */
export function nextInterval(previous: number, concurrentStarts: number): number {
  const cap = Math.min(50, Math.max(2, concurrentStarts));
  return Math.min(previous * 1.5, cap);
}

/** Once the port accepts, a failing HTTP check is repeated at most this often: the app answers it. */
export const HTTP_RETRY_MS = 10;

export async function waitReady(
  target: ReadinessTarget,
  now: () => number = Date.now,
  probe: (port: number, health: string | undefined, timeoutMs: number) => Promise<ProbeResult> = defaultProbe,
  connect: (port: number, timeoutMs: number) => Promise<ProbeResult> = probeTcp,
): Promise<void> {
  waiting++;
  try {
    const deadline = now() + target.startupTimeoutS * 1000;
    let interval = 1;
    let last: ProbeResult | undefined;
    // Without a health path the probe is the TCP connect itself.
    let accepting = target.health === undefined;
    for (;;) {
      if (target.exited()) throw new ExitedBeforeReadyError();
      const left = deadline - now();
      if (left <= 0) {
        throw new TimeoutError(`not healthy within startup_timeout (${target.startupTimeoutS} s)${last ? `: last check ${last.detail}` : ''}`);
      }
      if (!accepting) {
        last = await connect(target.port, Math.min(left, 2000));
        accepting = last.ok;
      }
      if (accepting) {
        last = await probe(target.port, target.health, Math.min(left, 2000));
        if (last.ok) return;
      }
      if (target.exited()) throw new ExitedBeforeReadyError();
      const pause = accepting ? Math.max(interval, HTTP_RETRY_MS) : interval;
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(1, deadline - now()))));
      interval = nextInterval(interval, waiting);
    }
  } finally {
    waiting--;
  }
}
