// Tests stop what they start, by pid. These helpers find and kill what a test's processes left.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

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

/** The launcher process a controller forked (src/supervisor/launcher/), if it has one now. */
export function launcherOf(controllerPid: number): number | undefined {
  let children: string[];
  try {
    children = fs.readFileSync(`/proc/${controllerPid}/task/${controllerPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
  for (const c of children) {
    try {
      if (fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('launcher-process.js')) return Number(c);
    } catch {
      // gone
    }
  }
  return undefined;
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

/** The parent pid of a process (field 4 of /proc/PID/stat), null once it is gone. */
export function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * The tops of the process trees mentioning `marker`: one per sandboxed instance (bubblewrap, its
 * init and the app all mention the instance's folder; the pid tenement records is the top).
 */
export function rootPidsMentioning(marker: string): number[] {
  const all = new Set(pidsMentioning(marker));
  return [...all].filter((pid) => !all.has(parentOf(pid) ?? -1));
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

/** Deletes tenement's nftables tables whose comment names `marker` (a test's temp dir). */
export function removeNetRulesMentioning(marker: string): void {
  const listed = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  if (listed.status !== 0) return;
  for (const m of listed.stdout.matchAll(/^table (\w+) (tenement_\w+)$/gm)) {
    const [, family, name] = m as unknown as [string, string, string];
    // The comment (`tenement DATA_DIR`) is only in the full listing (nft 1.0.6 leaves it out of JSON).
    const table = spawnSync('nft', ['list', 'table', family, name], { encoding: 'utf8' });
    if (table.stdout.split('\n').some((l) => l.trim().startsWith('comment') && l.includes(marker))) spawnSync('nft', ['delete', 'table', family, name]);
  }
}

/** Removes the (empty) instance cgroups a controller on `dataDir` made, in every hierarchy. */
export function removeCgroupsOf(dataDir: string): void {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/pids']) {
    const dir = path.join(root, 'tenement', hash);
    let leaves: string[] = [];
    try {
      leaves = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const p of [...leaves.map((l) => path.join(dir, l)), dir]) {
      // Killed processes take a moment to leave their cgroup.
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(p);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTEMPTY') break;
          spawnSync('sleep', ['0.02']);
        }
      }
    }
  }
}

/** Kills every process mentioning `marker` (test clean-up after failures). Returns what it killed. */
export function killAllMentioning(marker: string): number[] {
  removeNetRulesMentioning(marker);
  const pids = pidsMentioning(marker);
  for (const pid of pids) killGroupQuietly(pid);
  return pids;
}
