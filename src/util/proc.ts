// Process identity from /proc. A pid alone is not an identity: after a process exits the kernel
// hands its pid to someone else, and signalling or adopting that stranger would be a serious bug.
// The pair (pid, start time) is unique for the life of the machine, so that is what we record and
// compare. Linux only: where /proc is missing the start time is null and identity cannot be proven.
import fs from 'node:fs';

interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  /** Field 22: start time in clock ticks since boot, kept as text (it can exceed 2^53 in theory). */
  startTime: string;
}

function readProcStat(pid: number): ProcStat | null {
  if (!isValidPid(pid)) return null;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may itself contain spaces and ')', so split after the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(' ');
  // fields[0] is field 3, so field 22 is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return null;
  return { state, startTime };
}

function isValidPid(pid: number): boolean {
  // 0 and negative numbers address process groups in kill(2): never treat them as a process.
  return Number.isSafeInteger(pid) && pid > 0;
}

/** Start time of `pid` (clock ticks since boot, /proc/<pid>/stat field 22), or null if unknown. */
export function readProcStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * True if a process with this pid exists and has not exited. EPERM (someone else's process) counts
 * as alive; a zombie (exited, not yet reaped by its parent) does not.
 */
export function isAlive(pid: number): boolean {
  if (!isValidPid(pid)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProcStat(pid);
  return !(stat && (stat.state === 'Z' || stat.state === 'X'));
}

/**
 * True only if `pid` is alive and provably the process that had `startTime`. Unknown start times
 * (recorded or current) give false: callers use this before signalling or adopting a process, where
 * a wrong "yes" hits a stranger and a wrong "no" merely starts a fresh instance.
 */
export function isSameProcess(pid: number, startTime: string | null): boolean {
  if (startTime === null || !isAlive(pid)) return false;
  const current = readProcStartTime(pid);
  return current !== null && current === startTime;
}
