// Talking to the running systemd, only when install/uninstall target the running system (no
// --root, no --dry-run) and systemd is what booted it; otherwise the commands are printed instead.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function findProgram(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return undefined;
}

export type SystemdAvailability = { ok: true; systemctl: string } | { ok: false; why: string };

/** sd_booted(3): systemd is PID 1 when /run/systemd/system exists. */
export function systemdAvailability(opts: { root: string; dryRun: boolean }): SystemdAvailability {
  if (opts.dryRun) return { ok: false, why: 'dry run' };
  if (opts.root !== '/') return { ok: false, why: `installing under --root ${opts.root}` };
  const systemctl = findProgram('systemctl');
  if (!systemctl) return { ok: false, why: 'systemctl not found' };
  if (!fs.existsSync('/run/systemd/system')) return { ok: false, why: 'this system was not booted with systemd' };
  return { ok: true, systemctl };
}

export function runSystemctl(systemctl: string, args: string[]): { ok: boolean; output: string } {
  const res = spawnSync(systemctl, args, { encoding: 'utf8', timeout: 60_000 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? res.error.message : ''}`.trim();
  return { ok: res.status === 0, output };
}
