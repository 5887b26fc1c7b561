// What happens after a process exits, as pure decisions: whether it is restarted (the service's
// `restart` policy), and if so after what delay, or whether the instance has failed for good
// (`max_restarts` within `restart_window`). The timers that carry them out are in restarts.ts.
import type { RestartPolicy, Settings } from '../config/types.js';
import { backoffDelay } from './backoff.js';
import { describeExit, type ExitInfo } from './exit-watch.js';

/** An exit counts as a failure unless it was a known, clean exit (code 0, no signal). */
export function exitFailed(info: ExitInfo): boolean {
  return !info.known || info.signal !== null || info.code !== 0;
}

export type ExitDecision = { restart: true; failed: boolean } | { restart: false; failed: boolean; observed: 'failed' | 'stopped'; lastError: string | null };

/**
 * After an exit: `always` restarts, `on-failure` restarts unless the exit was clean, `never` does
 * not. Without a restart the instance is `failed` (with the reason) or `stopped` (clean exit).
 */
export function decideAfterExit(info: ExitInfo, policy: RestartPolicy): ExitDecision {
  const failed = exitFailed(info);
  const restart = policy === 'always' || (policy === 'on-failure' && failed);
  if (restart) return { restart, failed };
  return {
    restart,
    failed,
    observed: failed ? 'failed' : 'stopped',
    lastError: failed ? `${describeExit(info)} (restart = "${policy}")` : null,
  };
}

export type RestartDecision = { action: 'give-up'; message: string } | { action: 'restart'; delayMs: number; attempt: number };

export type RestartSettings = Pick<Settings, 'max_restarts' | 'restart_window' | 'backoff_base_ms' | 'backoff_max_ms'>;

/**
 * Given how many restarts already happened within `restart_window`: give up (the instance becomes
 * `failed`) once there were `max_restarts` of them, else restart after the backoff delay.
 */
export function decideRestart(recentRestarts: number, s: RestartSettings, reason: string): RestartDecision {
  if (recentRestarts >= s.max_restarts) {
    return {
      action: 'give-up',
      message: `${recentRestarts} restarts within ${s.restart_window} s (max_restarts = ${s.max_restarts}); last: ${reason}`,
    };
  }
  return { action: 'restart', delayMs: backoffDelay(recentRestarts, s.backoff_base_ms, s.backoff_max_ms), attempt: recentRestarts + 1 };
}

/** Spawn errors carry the process's last output on further lines; the reason is the first. */
export function restartReason(why: string): string {
  return why.split('\n')[0] || why;
}
