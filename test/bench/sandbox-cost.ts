// What `isolation = "namespace"` adds to every start, apart from tenement: the exec chain the
// product runs before the tenant (sh joining the cgroup, bubblewrap, env, setpriv), built with the
// product's own argv functions, timed against the bare program. Alternating runs, median difference.
// Root with bubblewrap and setpriv only (null elsewhere): that is when instances run sandboxed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { joinCgroupArgv } from '../../src/isolation/cgroup.js';
import { detectHost } from '../../src/isolation/host.js';
import { bwrapArgs, setprivArgs } from '../../src/isolation/sandbox-argv.js';
import { tempDir } from '../helpers/temp-dir.js';
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

/** Median ms the sandbox adds to starting `program` (null when this host does not sandbox). */
export async function sandboxStartCost(program: readonly string[], runs: number): Promise<number | null> {
  const host = detectHost();
  if (!host.root || !host.bwrap || !host.setpriv) return null;
  const { dir, cleanup } = tempDir('tenement-bench-sandbox-');
  try {
    const dataRoot = path.join(dir, 'data');
    const instanceDir = path.join(dataRoot, 'svc', 'one');
    fs.mkdirSync(instanceDir, { recursive: true });
    fs.chownSync(instanceDir, UID, UID);
    const sandboxed = [
      ...joinCgroupArgv([], { ignoreTerm: true }),
      host.bwrap,
      ...bwrapArgs({ dataRoot, instanceDir, extraReadOnly: [], hiddenFiles: [], cwd: instanceDir, shareNet: true }, { userNamespace: false }),
      '/usr/bin/env',
      '--default-signal=TERM',
      host.setpriv,
      ...setprivArgs({ uid: UID, gid: UID }),
      ...program,
    ];
    const diffs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const bare = await run(program);
      diffs.push((await run(sandboxed)) - bare);
    }
    return median(diffs);
  } finally {
    cleanup();
  }
}
