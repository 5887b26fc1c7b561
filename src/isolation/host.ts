// What this host lets the controller enforce: root (uid switching, cgroups, nftables), bubblewrap
// (namespace isolation), setpriv (dropping to the instance's uid), nft, and which cgroup version.
// `ten config` and /health print it, so nobody believes they have isolation they do not have.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { detectCgroupHost, type CgroupHost } from './cgroup.js';

export interface HostIsolation {
  root: boolean;
  bwrap: string | null;
  setpriv: string | null;
  nft: string | null;
  cgroup: CgroupHost | null;
}

/** A tool by env override (TENEMENT_BWRAP etc., also to simulate a missing one), else on PATH. */
export function findTool(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const override = env[`TENEMENT_${name.toUpperCase()}`];
  const candidates =
    override !== undefined ? [override] : [...(env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // next
    }
  }
  return null;
}

export function detectHost(env: NodeJS.ProcessEnv = process.env): HostIsolation {
  const root = process.getuid?.() === 0;
  const nft = findTool('nft', env);
  return {
    root,
    bwrap: findTool('bwrap', env),
    setpriv: findTool('setpriv', env),
    // Installed is not enough: in a container without CAP_NET_ADMIN nft cannot change anything.
    nft: nft && root && spawnSync(nft, ['list', 'tables'], { stdio: 'ignore', timeout: 5000 }).status === 0 ? nft : null,
    cgroup: detectCgroupHost(),
  };
}

export interface IsolationReport {
  /** One line per guarantee, each saying given or not and why. */
  given: string[];
  missing: string[];
}

/** What instances get on this host, in words (for `ten config` and /health). */
export function describeHost(h: HostIsolation): IsolationReport {
  const given: string[] = [];
  const missing: string[] = [];
  if (h.root && h.setpriv) given.push('own uid/gid per instance, no supplementary groups, no capabilities, no_new_privs');
  else if (!h.root) missing.push('own uid per instance: the controller is not root, instances run as its own user');
  else missing.push('own uid per instance: setpriv (util-linux) not found');
  given.push('clean environment (PORT, DATA_DIR, the service env, PATH/HOME/LANG)');
  if (h.bwrap) given.push(`isolation = "namespace": own PID/IPC/mount namespaces, private /tmp and /dev/shm, read-only system, only DATA_DIR writable (${h.bwrap})`);
  else missing.push('isolation = "namespace": bubblewrap (bwrap) not found; install the Debian package "bubblewrap"');
  if (h.cgroup && h.root) given.push(`limits with cgroup v${h.cgroup.version}: memory_limit_mb (memory + swap), cpu_shares, pids_limit`);
  else if (!h.cgroup) missing.push('resource limits: no cgroup hierarchy found');
  else missing.push('resource limits: cgroups need root (memory_limit_mb / cpu_shares make spawns fail; pids_limit is not applied)');
  if (h.nft && h.root) given.push("network: per-uid nftables rules keep instances off the controller port, Caddy admin and other instances' ports");
  else if (!h.nft && h.root) missing.push('network rules: nft not found or not permitted (Debian package "nftables"; CAP_NET_ADMIN); instances can connect to each other\'s ports');
  else missing.push("network rules: need root; instances can connect to each other's ports");
  return { given, missing };
}
