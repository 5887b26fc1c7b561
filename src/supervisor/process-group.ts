// Every instance runs in its own process group (it is spawned detached, i.e. as a session leader),
// so signals go to the whole group: `sh -c 'child & exec app'`, `go run`, `uv run` leave nothing behind.
import { setTimeout as delay } from 'node:timers/promises';

/** Sends `signal` to every process of the group led by `pgid`. Returns false if the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

async function waitGroupGone(pgid: number, timeoutMs: number, alive: (pgid: number) => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let interval = 5;
  while (alive(pgid)) {
    if (Date.now() >= deadline) return false;
    await delay(Math.min(interval, Math.max(1, deadline - Date.now())));
    interval = Math.min(interval * 2, 50);
  }
  return true;
}

export interface StopResult {
  /** True when SIGTERM was not enough and the group had to be killed. */
  killed: boolean;
}

/**
 * SIGTERM to the group, then SIGKILL after `timeoutMs`; resolves once `alive` says the group is
 * gone (by default: no process of the group is left, zombies included).
 */
export async function stopGroup(pgid: number, timeoutMs: number, alive: (pgid: number) => boolean = groupAlive): Promise<StopResult> {
  if (!signalGroup(pgid, 'SIGTERM')) return { killed: false };
  if (await waitGroupGone(pgid, timeoutMs, alive)) return { killed: false };
  signalGroup(pgid, 'SIGKILL');
  // SIGKILL cannot be ignored; a short wait covers the kernel tearing the processes down.
  if (!(await waitGroupGone(pgid, 5000, alive))) {
    throw new Error(`process group ${pgid} survived SIGKILL (processes in uninterruptible sleep?)`);
  }
  return { killed: true };
}
