// One cgroup per instance, for memory (+ swap), CPU weight and a pids limit, on cgroup v2 (the
// unified hierarchy most production hosts have) or v1 (separate memory, cpu and pids hierarchies).
// The process joins its cgroup before it execs the tenant (see joinCgroupArgv), so nothing it forks
// escapes the limits. The OOM killer's kills are counted per cgroup, which is how an instance's
// death is recognised as `oom-killed`.
import fs from 'node:fs';
import path from 'node:path';
import { processCpuSeconds } from '../util/proc-cpu.js';

export type CgroupVersion = 1 | 2;

export interface CgroupHost {
  version: CgroupVersion;
  /** v2: the unified mount. v1: one mount per controller we use. */
  mounts: { unified?: string; memory?: string; cpu?: string; pids?: string };
}

export interface CgroupLimits {
  /** Memory limit in bytes (memory + swap together); undefined = unlimited. */
  memoryBytes: number | undefined;
  /** cgroup v2 cpu.weight semantics (1-10000, default 100); undefined = the kernel default. */
  cpuWeight: number | undefined;
  /** Maximum number of tasks (processes and threads); undefined = unlimited. */
  pidsMax: number | undefined;
}

export class CgroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgroupError';
  }
}

/**
 * Whether moving a process into a cgroup waits for an RCU grace period (~5-15 ms on a 2-core host,
 * paid by every tenant start in its join). The kernel skips that wait once any cgroup hierarchy is
 * mounted with `favordynmods` (Linux 6.0+; or booted with `cgroup_favordynmods=true`), at the price
 * of a slightly slower fork and exit for every process on the host. tenement never changes host
 * mounts; it says which case it runs in (docs/performance.md, "Host tuning").
 */
export function cgroupJoinWaits(mountsFile = '/proc/self/mounts', cmdlineFile = '/proc/cmdline'): boolean {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  for (const line of read(mountsFile).split('\n')) {
    const [, , type, options] = line.split(' ');
    if ((type === 'cgroup' || type === 'cgroup2') && (options ?? '').split(',').includes('favordynmods')) return false;
  }
  return !/(^|\s)cgroup_favordynmods=(1|y|yes|true|on)(\s|$)/i.test(read(cmdlineFile));
}

/** Reads /proc/self/mounts: v2 when the unified mount has controllers, else the v1 hierarchies. */
export function detectCgroupHost(mountsFile = '/proc/self/mounts'): CgroupHost | null {
  let text: string;
  try {
    text = fs.readFileSync(mountsFile, 'utf8');
  } catch {
    return null;
  }
  const v1: CgroupHost['mounts'] = {};
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const [, where, type, options] = line.split(' ');
    if (!where || !type) continue;
    if (type === 'cgroup2') unified ??= where;
    if (type === 'cgroup') {
      const opts = (options ?? '').split(',');
      if (opts.includes('memory')) v1.memory = where;
      if (opts.includes('cpu')) v1.cpu = where;
      if (opts.includes('pids')) v1.pids = where;
    }
  }
  if (unified) {
    let controllers = '';
    try {
      controllers = fs.readFileSync(path.join(unified, 'cgroup.controllers'), 'utf8');
    } catch {
      // an empty hybrid mount
    }
    if (/\bmemory\b/.test(controllers) || (!v1.memory && !v1.pids)) return { version: 2, mounts: { unified } };
  }
  if (v1.memory || v1.cpu || v1.pids) return { version: 1, mounts: v1 };
  return null;
}

/** cpu.weight (v2, 1-10000, default 100) -> cpu.shares (v1, 2-262144, default 1024). */
export function weightToShares(weight: number): number {
  return Math.min(262144, Math.max(2, Math.round((weight * 1024) / 100)));
}

function write(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CgroupError(`cannot write ${JSON.stringify(value)} to ${file}: ${e.code ?? e.message}`);
  }
}

/** A `key value` line of a cgroup stat file; null when the file or the line is missing. */
function readCounter(file: string, key: string): number | null {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export class InstanceCgroup {
  /**
   * @param relative path below each hierarchy's root, e.g. `tenement/d1a2b3c4/api.alice`; every
   *        level above the leaf is created as needed and left in place.
   */
  constructor(
    readonly host: CgroupHost,
    readonly relative: string,
  ) {}

  /** The directories of this cgroup, one per hierarchy used. */
  dirs(): string[] {
    const m = this.host.mounts;
    const roots = this.host.version === 2 ? [m.unified] : [m.memory, m.cpu, m.pids];
    return [...new Set(roots.filter((r): r is string => !!r))].map((r) => path.join(r, this.relative));
  }

  /** Files a process writes its pid to in order to join this cgroup (one per hierarchy). */
  procsFiles(): string[] {
    return this.dirs().map((d) => path.join(d, 'cgroup.procs'));
  }

  /** Creates the cgroup (or reuses it) and applies `limits`; throws CgroupError naming the file that refused. */
  apply(limits: CgroupLimits): void {
    if (this.host.version === 2) this.applyV2(limits);
    else this.applyV1(limits);
  }

  private applyV2(limits: CgroupLimits): void {
    const root = this.host.mounts.unified!;
    const parts = this.relative.split('/');
    // Controllers must be enabled in every ancestor's subtree_control for the leaf to have them.
    let dir = root;
    for (const part of parts) {
      const control = path.join(dir, 'cgroup.subtree_control');
      const enabled = safeRead(control);
      const want = ['memory', 'cpu', 'pids'].filter((c) => !new RegExp(`\\b${c}\\b`).test(enabled));
      if (want.length) {
        try {
          fs.writeFileSync(control, want.map((c) => `+${c}`).join(' '));
        } catch (err) {
          throw new CgroupError(
            `cannot enable the ${want.join(', ')} controller(s) in ${control} (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
              `available: ${safeRead(path.join(dir, 'cgroup.controllers')).trim() || 'none'}`,
          );
        }
      }
      dir = path.join(dir, part);
      mkdir(dir);
    }
    write(path.join(dir, 'memory.max'), limits.memoryBytes === undefined ? 'max' : String(limits.memoryBytes));
    // Memory + swap: no swap at all, so memory.max is the whole budget.
    if (fs.existsSync(path.join(dir, 'memory.swap.max'))) write(path.join(dir, 'memory.swap.max'), limits.memoryBytes === undefined ? 'max' : '0');
    write(path.join(dir, 'cpu.weight'), String(limits.cpuWeight === undefined ? 100 : Math.min(10000, Math.max(1, limits.cpuWeight))));
    write(path.join(dir, 'pids.max'), limits.pidsMax === undefined ? 'max' : String(limits.pidsMax));
  }

  private applyV1(limits: CgroupLimits): void {
    const m = this.host.mounts;
    const need = (what: string, mount: string | undefined, wanted: boolean): string | undefined => {
      if (!mount) {
        if (wanted) throw new CgroupError(`the cgroup v1 ${what} controller is not mounted (no ${what} hierarchy under /sys/fs/cgroup)`);
        return undefined;
      }
      const dir = path.join(mount, this.relative);
      let at = mount;
      for (const part of this.relative.split('/')) {
        at = path.join(at, part);
        mkdir(at);
      }
      return dir;
    };
    const mem = need('memory', m.memory, limits.memoryBytes !== undefined);
    if (mem) {
      const limit = limits.memoryBytes === undefined ? '-1' : String(limits.memoryBytes);
      const memsw = path.join(mem, 'memory.memsw.limit_in_bytes');
      const hasMemsw = fs.existsSync(memsw);
      // memory.limit_in_bytes may never exceed memsw: raise memsw first when growing, after when shrinking.
      try {
        if (hasMemsw) fs.writeFileSync(memsw, limit === '-1' ? '-1' : limit);
        fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), limit);
      } catch {
        write(path.join(mem, 'memory.limit_in_bytes'), limit);
        if (hasMemsw) write(memsw, limit);
      }
      if (limits.memoryBytes !== undefined && fs.existsSync(path.join(mem, 'memory.swappiness'))) {
        try {
          fs.writeFileSync(path.join(mem, 'memory.swappiness'), '0');
        } catch {
          // not settable under every parent; memsw (when accounted) is what counts
        }
      }
    }
    const cpu = need('cpu', m.cpu, limits.cpuWeight !== undefined);
    if (cpu) write(path.join(cpu, 'cpu.shares'), String(weightToShares(limits.cpuWeight ?? 100)));
    const pids = need('pids', m.pids, limits.pidsMax !== undefined);
    if (pids) write(path.join(pids, 'pids.max'), limits.pidsMax === undefined ? 'max' : String(limits.pidsMax));
  }

  /** Kills by the OOM killer in this cgroup since it was created. */
  oomKills(): number {
    if (this.host.version === 2) return readCounter(path.join(this.host.mounts.unified!, this.relative, 'memory.events'), 'oom_kill') ?? 0;
    if (!this.host.mounts.memory) return 0;
    return readCounter(path.join(this.host.mounts.memory, this.relative, 'memory.oom_control'), 'oom_kill') ?? 0;
  }

  /** Pids of every process in the cgroup. */
  pids(): number[] {
    const all = new Set<number>();
    for (const file of this.procsFiles()) {
      for (const line of safeRead(file).split('\n')) if (/^\d+$/.test(line)) all.add(Number(line));
    }
    return [...all];
  }

  /** Memory the cgroup uses now, in bytes (null when unknown). */
  memoryBytes(): number | null {
    const file =
      this.host.version === 2
        ? path.join(this.host.mounts.unified!, this.relative, 'memory.current')
        : this.host.mounts.memory && path.join(this.host.mounts.memory, this.relative, 'memory.usage_in_bytes');
    if (!file) return null;
    const text = safeRead(file).trim();
    const n = Number(text);
    return text !== '' && Number.isFinite(n) ? n : null;
  }

  /**
   * CPU time the cgroup's processes have used since it was created, in seconds (null when unknown).
   * v2 and v1 with cpuacct mounted together with cpu account it per group; otherwise (cpuacct on a
   * hierarchy of its own, which instances do not join) it is the sum over the processes now in the
   * cgroup, which leaves out processes that exited without being reaped by one of them.
   */
  cpuSeconds(): number | null {
    if (this.host.version === 2) {
      const usec = readCounter(path.join(this.host.mounts.unified!, this.relative, 'cpu.stat'), 'usage_usec');
      return usec === null ? null : usec / 1e6;
    }
    if (this.host.mounts.cpu) {
      const ns = Number(safeRead(path.join(this.host.mounts.cpu, this.relative, 'cpuacct.usage')).trim() || NaN);
      if (Number.isFinite(ns)) return ns / 1e9;
    }
    const pids = this.pids();
    if (pids.length === 0) return null;
    let total = 0;
    for (const pid of pids) total += processCpuSeconds(pid) ?? 0;
    return total;
  }

  /** SIGKILLs everything left in the cgroup (what escaped its process group, e.g. by setsid). */
  killAll(): void {
    if (this.host.version === 2) {
      const kill = path.join(this.host.mounts.unified!, this.relative, 'cgroup.kill');
      if (fs.existsSync(kill)) {
        try {
          fs.writeFileSync(kill, '1');
          return;
        } catch {
          // fall back to signalling each pid
        }
      }
    }
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Removes the leaf directories once empty; returns false when processes are still in it. */
  remove(): boolean {
    let ok = true;
    for (const dir of this.dirs()) {
      try {
        fs.rmdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ok = false;
      }
    }
    return ok;
  }
}

function mkdir(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'EEXIST') throw new CgroupError(`cannot create cgroup ${dir}: ${e.code ?? e.message}`);
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * argv prefix that joins the cgroup and then execs the rest: a shell writes its own pid ($$, kept
 * by exec) to each cgroup.procs file, so the tenant is limited from its first instruction. It also
 * tells the tenant the pid the controller knows it by (TENEMENT_HOST_PID): inside its own PID
 * namespace its pid is a small number that means nothing in logs or `ten ps`.
 */
export function joinCgroupArgv(procsFiles: readonly string[], opts: { ignoreTerm?: boolean } = {}, shell = '/bin/sh'): string[] {
  const script =
    (opts.ignoreTerm ? "trap '' TERM; " : '') +
    'while [ "$1" != "--" ]; do echo $$ > "$1" || { echo "tenement: cannot join cgroup ($1)" >&2; exit 125; }; shift; done; shift; ' +
    'TENEMENT_HOST_PID=$$; export TENEMENT_HOST_PID; exec "$@"';
  return [shell, '-c', script, 'tenement-cgroup-join', ...procsFiles, '--'];
}
