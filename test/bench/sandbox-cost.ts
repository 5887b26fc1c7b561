// What `isolation = "namespace"` adds to every start, apart from tenement: the exec chain the
// product runs before the tenant (sh joining a cgroup with limits, bubblewrap, env, setpriv), built
// with the product's own argv and cgroup code, timed against the bare program. Alternating runs,
// median difference. Joining the cgroup is timed apart: it costs ~5-15 ms on hosts where the kernel
// waits for an RCU grace period to migrate a process between cgroups, ~0 where a cgroup mount has
// favordynmods (see cgroupJoinWaits in src/isolation/cgroup.ts).
// Root with bubblewrap and setpriv only (null elsewhere): that is when instances run sandboxed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InstanceCgroup, joinCgroupArgv } from '../../src/isolation/cgroup.js';
import { detectHost } from '../../src/isolation/host.js';
import { bwrapArgs, setprivArgs } from '../../src/isolation/sandbox-argv.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../../src/util/wait.js';
import { median } from './measure.js';

/** A uid far from every range tenement or the tests allocate. */
const UID = 699_990;

function run(argv: readonly string[]): Promise<number> {
  const [file, ...args] = argv as [string, ...string[]];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv.join(' ')} exited with ${code}`))));
  });
}

export interface SandboxCost {
  /** Median ms the whole chain adds to starting the program. */
  totalMs: number;
  /** Of it, `sh` joining the cgroup (the kernel's wait for an RCU grace period, unless favordynmods). */
  joinMs: number;
}

/** What the sandbox adds to starting `program` (null when this host does not sandbox). */
export async function sandboxStartCost(program: readonly string[], runs: number): Promise<SandboxCost | null> {
  const host = detectHost();
  if (!host.root || !host.bwrap || !host.setpriv) return null;
  const { dir, cleanup } = tempDir('tenement-bench-sandbox-');
  const cgroup = host.cgroup ? new InstanceCgroup(host.cgroup, `tenement/bench-${process.pid}/sandbox`) : null;
  try {
    cgroup?.apply({ memoryBytes: 512 * 1024 * 1024, cpuWeight: undefined, pidsMax: 512 });
    const dataRoot = path.join(dir, 'data');
    const instanceDir = path.join(dataRoot, 'svc', 'one');
    fs.mkdirSync(instanceDir, { recursive: true });
    fs.chownSync(instanceDir, UID, UID);
    const join = [...joinCgroupArgv(cgroup ? cgroup.procsFiles() : [], { ignoreTerm: true }), ...program];
    const sandboxed = [
      ...joinCgroupArgv(cgroup ? cgroup.procsFiles() : [], { ignoreTerm: true }),
      host.bwrap,
      ...bwrapArgs({ dataRoot, instanceDir, extraReadOnly: [], hiddenFiles: [], cwd: instanceDir, shareNet: true }, { userNamespace: false }),
      '/usr/bin/env',
      '--default-signal=TERM',
      host.setpriv,
      ...setprivArgs({ uid: UID, gid: UID }),
      ...program,
    ];
    const totals: number[] = [];
    const joins: number[] = [];
    for (let i = 0; i < runs; i++) {
      const bare = await run(program);
      joins.push((await run(join)) - bare);
      totals.push((await run(sandboxed)) - bare);
    }
    return { totalMs: median(totals), joinMs: median(joins) };
  } finally {
    if (cgroup) {
      await waitFor(() => cgroup.pids().length === 0, { timeoutMs: 5000, what: 'the sandbox cgroup to empty' }).catch(() => undefined);
      cgroup.remove();
      for (const d of cgroup.dirs()) fs.rmSync(path.dirname(d), { recursive: true, force: true });
    }
    cleanup();
  }
}
