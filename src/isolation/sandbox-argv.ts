// The argv that starts a tenant under its own identity and, for `isolation = "namespace"`, in its
// own view of the system (bubblewrap). Pure functions: what runs is decided here and tested as data.
//
// As root, bwrap runs privileged (no user namespace): it builds the mount and PID namespaces, then
// execs setpriv, which drops to the instance's uid/gid with no supplementary groups, no
// capabilities (bounding set emptied too) and no_new_privs, and execs the tenant. A user namespace
// would make `--uid N` a root process on the host; this way the host sees uid N, which is what the
// per-uid network rules and file ownership rely on.
//
// bwrap is deliberately started without --die-with-parent: tenants outlive the controller and are
// adopted by the next one.
import path from 'node:path';

export interface Identity {
  uid: number;
  gid: number;
}

export interface SandboxPlan {
  /** Absolute data root (settings.data_dir): replaced by an empty tmpfs inside the sandbox. */
  dataRoot: string;
  /** The instance's own directory, the only writable place that survives the process. */
  instanceDir: string;
  /** Read-only paths that must stay visible although they are under a hidden place (/tmp, /dev/shm). */
  extraReadOnly: readonly string[];
  /** Files outside the data root that must read as empty (the config file). */
  hiddenFiles: readonly string[];
  /** Working directory inside the sandbox. */
  cwd: string;
  /** Share the host's network namespace (Caddy dials the tenant on 127.0.0.1). */
  shareNet: true;
}

/** Places replaced by private, empty tmpfs mounts. */
export const PRIVATE_TMPFS = ['/tmp', '/var/tmp', '/dev/shm'] as const;

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Ancestors of `p` strictly between `top` and `p` (both excluded), outermost first. */
function between(top: string, p: string): string[] {
  const out: string[] = [];
  let d = path.dirname(p);
  while (d !== top && under(d, top) && d !== '/') {
    out.unshift(d);
    d = path.dirname(d);
  }
  return out;
}

/**
 * bubblewrap arguments, up to and including `--`. Mount order matters: the system read-only first,
 * then private tmpfs over /tmp and friends, then the few paths that must show through them, then an
 * empty tmpfs over the data root, and last the instance's own directory, bound read-write.
 */
export function bwrapArgs(plan: SandboxPlan, opts: { userNamespace: boolean }): string[] {
  const a: string[] = [];
  if (opts.userNamespace) a.push('--unshare-user');
  a.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'tenant');
  a.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
  for (const t of PRIVATE_TMPFS) a.push('--perms', '1777', '--tmpfs', t);
  const made = new Set<string>();
  const dirs = (top: string, p: string, perms: string) => {
    for (const d of between(top, p)) {
      if (made.has(d)) continue;
      made.add(d);
      // bwrap would create missing parents 0700 (root): the tenant could not walk to its DATA_DIR.
      a.push('--perms', perms, '--dir', d);
    }
  };
  for (const ro of plan.extraReadOnly) {
    const top = PRIVATE_TMPFS.find((t) => under(ro, t));
    if (!top) continue;
    dirs(top, ro, '0755');
    a.push('--ro-bind', ro, ro);
  }
  const tmpTop = PRIVATE_TMPFS.find((t) => under(plan.dataRoot, t));
  if (tmpTop) dirs(tmpTop, plan.dataRoot, '0755');
  a.push('--perms', '0711', '--tmpfs', plan.dataRoot);
  dirs(plan.dataRoot, plan.instanceDir, '0711');
  a.push('--bind', plan.instanceDir, plan.instanceDir);
  a.push('--chdir', plan.cwd);
  // The config file names every service's env (secrets included): the tenant sees an empty file.
  for (const f of plan.hiddenFiles) {
    const visible = !under(f, plan.dataRoot) && (!PRIVATE_TMPFS.some((t) => under(f, t)) || plan.extraReadOnly.some((ro) => under(f, ro)));
    if (visible) a.push('--ro-bind', '/dev/null', f);
  }
  if (opts.userNamespace) a.push('--cap-drop', 'ALL');
  a.push('--');
  return a;
}

/** setpriv arguments (up to `--`) that become `id` with nothing else: no groups, caps or new privileges. */
export function setprivArgs(id: Identity): string[] {
  return [`--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

/** Paths that must show through the private tmpfs mounts: the workdir and the program, when they are under one. */
export function readOnlyExtras(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!PRIVATE_TMPFS.some((t) => under(p, t) && p !== t)) continue;
    if (!out.some((o) => under(p, o))) out.push(p);
  }
  return out;
}
