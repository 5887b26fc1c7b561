// CPU time of a process from /proc/<pid>/stat, for hosts whose cgroups do not account CPU per
// group (cgroup v1 with cpuacct mounted apart from cpu, so an instance's cgroup has no
// cpuacct.usage). Linux only: null where /proc is missing or the process is gone.
import fs from 'node:fs';

/**
 * Clock ticks per second of /proc's time fields. The kernel reports them in USER_HZ, which is 100
 * on every architecture Linux exports to userland (glibc's sysconf(_SC_CLK_TCK) returns the same
 * constant); Node has no sysconf binding, so it is fixed here.
 */
const USER_HZ = 100;

/** utime + stime + cutime + cstime of `pid` (its own CPU time and that of children it reaped), in seconds. */
export function processCpuSeconds(pid: number): number | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and ')': the fields start after the last ')'.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
  // fields[0] is field 3 (state); utime..cstime are fields 14..17.
  const ticks = fields.slice(11, 15).map(Number);
  if (ticks.length !== 4 || ticks.some((n) => !Number.isFinite(n))) return null;
  return ticks.reduce((a, b) => a + b, 0) / USER_HZ;
}
