// Waiting for a just-launched process to become healthy: probe it (short polls, since most apps are
// up within tens of milliseconds and every one counts on a wake) until it passes, its process
// exits, or `startup_timeout` runs out.
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

export async function waitReady(
  target: ReadinessTarget,
  now: () => number = Date.now,
  probe: (port: number, health: string | undefined, timeoutMs: number) => Promise<ProbeResult> = defaultProbe,
  connect: (port: number, timeoutMs: number) => Promise<ProbeResult> = probeTcp,
): Promise<void> {
  const deadline = now() + target.startupTimeoutS * 1000;
  let interval = 5;
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
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - now()))));
    // Slow growth, low cap: an app is seen ready at most ~20 ms after it is (a wake waits for it),
    // and a TCP connect to a closed port costs next to nothing.
    interval = Math.min(interval * 1.5, 20);
  }
}
