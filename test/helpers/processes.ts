// Tests stop what they start, by pid. These helpers find and kill what a test's processes left.
import fs from 'node:fs';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if the pid exists and is not a zombie. */
export function pidRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids of every process whose environment or command line mentions `marker` (e.g. a temp dir). */
export function pidsMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let env = '';
      try {
        env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        // not ours to read
      }
      if ((cmd.includes(marker) || env.includes(marker)) && pidRunning(pid)) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function killGroupQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every process mentioning `marker` (test clean-up after failures). Returns what it killed. */
export function killAllMentioning(marker: string): number[] {
  const pids = pidsMentioning(marker);
  for (const pid of pids) killGroupQuietly(pid);
  return pids;
}
