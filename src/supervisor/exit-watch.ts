// Noticing that an instance's process is gone. A process we spawned reports its exit status; one we
// adopted from an earlier controller is not our child, so we can only poll /proc for it, and its
// exit status is unknowable (it is treated as a failure).
import type { ChildProcess } from 'node:child_process';
import { isSameProcess } from '../util/proc.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False for adopted processes, whose status cannot be observed. */
  known: boolean;
}

export function describeExit(info: ExitInfo): string {
  if (!info.known) return 'exited (status unknown: adopted process)';
  if (info.signal) return `killed by ${info.signal}`;
  return `exited with code ${info.code}`;
}

export interface ExitWatch {
  cancel(): void;
}

export function watchExit(target: { pid: number; startTime: string | null; child?: ChildProcess | undefined }, onExit: (info: ExitInfo) => void, pollMs = 500): ExitWatch {
  if (target.child) {
    const child = target.child;
    const handler = (code: number | null, signal: NodeJS.Signals | null) => onExit({ code, signal, known: true });
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
