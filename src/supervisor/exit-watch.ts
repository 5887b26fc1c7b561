// Noticing that an instance's process is gone. A process we spawned reports its exit status; one we
// adopted from an earlier controller is not our child, so we can only poll /proc for it, and its
// exit status is unknowable (it is treated as a failure).
import { isSameProcess } from '../util/proc.js';
import type { ExitSource } from './runtime/runtime.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False for adopted processes, whose status cannot be observed. */
  known: boolean;
}

export function describeExit(info: ExitInfo): string {
  if (!info.known) return 'exited (status unknown: not a child of this controller)';
  if (info.signal) return `killed by ${info.signal}`;
  return `exited with code ${info.code}`;
}

export interface ExitWatch {
  cancel(): void;
}

export function watchExit(target: { pid: number; startTime: string | null; child?: ExitSource | undefined }, onExit: (info: ExitInfo) => void, pollMs = 500): ExitWatch {
  if (target.child) {
    const child = target.child;
    // A launcher that died can no longer say how its tenant ended: code and signal are then both null.
    const handler = (code: number | null, signal: NodeJS.Signals | null) => onExit({ code, signal, known: code !== null || signal !== null });
    child.once('exit', handler);
    return { cancel: () => child.off('exit', handler) };
  }
  const timer = setInterval(() => {
    if (!isSameProcess(target.pid, target.startTime)) {
      clearInterval(timer);
      onExit({ code: null, signal: null, known: false });
    }
  }, pollMs);
  timer.unref();
  return { cancel: () => clearInterval(timer) };
}
