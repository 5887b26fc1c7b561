// Whether a uid is already someone's on this host: listed in /etc/passwd or /etc/group, or owning a
// running process (another controller's tenant, say). Such a uid is never given to an instance.
import fs from 'node:fs';

function idsIn(file: string): Set<number> {
  const ids = new Set<number>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return ids;
  }
  for (const line of text.split('\n')) {
    const id = Number(line.split(':')[2]);
    if (Number.isInteger(id)) ids.add(id);
  }
  return ids;
}

/** uids of every running process (from /proc/PID/status: real, effective, saved, fs). */
export function runningUids(procRoot = '/proc'): Set<number> {
  const uids = new Set<number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(procRoot);
  } catch {
    return uids;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`${procRoot}/${name}/status`, 'utf8');
      const m = /^Uid:\s+(.*)$/m.exec(status);
      if (m?.[1]) for (const u of m[1].trim().split(/\s+/)) uids.add(Number(u));
    } catch {
      // gone meanwhile
    }
  }
  return uids;
}

let cached: { at: number; used: Set<number> } | undefined;

/**
 * A predicate for IdentityStore.ensure built from one snapshot of the host. The snapshot is reused
 * for a second: a burst of new instances must not scan /proc once each (uids handed out meanwhile
 * are in the store, which ensure() checks too).
 */
export function hostUidFilter(opts: { passwd?: string; group?: string; procRoot?: string } = {}, now = Date.now()): (uid: number) => boolean {
  const custom = opts.passwd !== undefined || opts.group !== undefined || opts.procRoot !== undefined;
  if (custom || !cached || now - cached.at > 1000) {
    const used = new Set<number>([...idsIn(opts.passwd ?? '/etc/passwd'), ...idsIn(opts.group ?? '/etc/group'), ...runningUids(opts.procRoot)]);
    if (custom) return (uid) => !used.has(uid);
    cached = { at: now, used };
  }
  const used = cached.used;
  return (uid) => !used.has(uid);
}
