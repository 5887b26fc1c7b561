// What `ten config` says about isolation: what this host gives instances and what it does not, and
// which services would not start under their own uid (the same preflight a spawn runs), so a config
// written for the original (apps under /root, run as root) is caught before the first spawn.
import path from 'node:path';
import { splitCommand } from '../config/command.js';
import type { Config } from '../config/types.js';
import { describeHost, type HostIsolation } from './host.js';
import { preflight, PreflightError } from './preflight.js';
import { PRIVATE_TMPFS, readOnlyExtras } from './sandbox-argv.js';
import { resolveUser } from './tenant-isolation.js';
import { TENANT_PATH } from './tenant-env.js';

export interface IsolationCheck {
  given: string[];
  missing: string[];
  /** One per service that cannot be given what it asks for, with the fix. */
  problems: string[];
}

export function checkIsolation(config: Config, host: HostIsolation): IsolationCheck {
  const { given, missing } = describeHost(host);
  const problems: string[] = [];
  const uidRoot = host.root && host.setpriv !== null;
  for (const [name, service] of Object.entries(config.services)) {
    if (service.isolation === 'namespace' && !host.bwrap) {
      problems.push(`service ${name}: isolation = "namespace" needs bubblewrap (bwrap not found): install it (apt-get install bubblewrap) or set isolation = "process"`);
    }
    if ((service.memory_limit_mb !== undefined || service.cpu_shares !== undefined) && !(host.root && host.cgroup)) {
      problems.push(`service ${name}: memory_limit_mb/cpu_shares cannot be applied here (${host.root ? 'no cgroup hierarchy' : 'the controller is not root'}): spawns will fail`);
    }
    if (!uidRoot) continue;
    let id;
    try {
      id = service.user !== undefined ? resolveUser(service.user) : { uid: config.settings.uid_range_start, gid: config.settings.uid_range_start };
    } catch (err) {
      problems.push(`service ${name}: ${(err as Error).message}`);
      continue;
    }
    if (id.uid === 0) continue;
    const cwd = service.workdir ?? path.dirname(config.file);
    let program: string;
    let args: string[];
    // Templates are left as they are: a path with {id} in it is checked only where it is literal.
    if (service.args !== undefined) [program, args] = [service.command, service.args];
    else [program, ...args] = splitCommand(service.command) as [string, ...string[]];
    const trusted = new Set<string>();
    if (service.isolation === 'namespace') {
      for (const t of PRIVATE_TMPFS) trusted.add(t);
      for (const ro of readOnlyExtras([cwd, ...(path.isAbsolute(program) ? [path.dirname(program)] : [])])) {
        for (let d = path.dirname(ro); d !== '/' && !PRIVATE_TMPFS.includes(d as never); d = path.dirname(d)) trusted.add(d);
      }
    }
    try {
      preflight({
        instance: `service ${name}`,
        id,
        program,
        args,
        cwd,
        checkCwd: service.workdir !== undefined,
        searchPath: service.env.PATH ?? TENANT_PATH,
        ...(service.isolation === 'process' ? { dataDir: path.join(config.settings.data_dir, name, 'x') } : {}),
        trusted,
        configFix: `set user = "root" with isolation = "process" for service ${name} (unisolated, as the original ran it)`,
      });
    } catch (err) {
      if (err instanceof PreflightError) problems.push(err.message);
      else throw err;
    }
  }
  return { given, missing, problems };
}
