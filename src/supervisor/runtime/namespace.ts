// isolation = "namespace" (the default, as in the original): the instance runs in a bubblewrap
// sandbox: its own PID, IPC and mount namespaces and /proc, private /tmp and /dev/shm, the system
// read-only, only its DATA_DIR writable, nothing of the data root visible; under its own uid with no
// groups, capabilities or new privileges; in its cgroup. The network namespace is shared (Caddy
// dials the tenant on 127.0.0.1); per-uid nftables rules keep it off other ports. What exactly is
// mounted is decided in src/isolation/sandbox-argv.ts.
//
// Stopping and liveness work like "process": bwrap stays in the instance's process group, and the
// kernel tears the whole PID namespace down when its first process dies.
import { ProcessRuntime, type ProcessRuntimeOptions } from './process.js';
import { LaunchError, type LaunchedProcess, type LaunchSpec } from './runtime.js';

export class NamespaceRuntime extends ProcessRuntime {
  override readonly name = 'namespace';

  constructor(opts: ProcessRuntimeOptions = {}) {
    super(opts);
  }

  override async launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    if (!spec.instance) return this.spawnDetached(spec);
    if (!this.isolation) throw new LaunchError('isolation = "namespace" needs the isolation module (a supervisor built without it cannot sandbox)');
    return this.spawnDetached(await this.isolation.prepare(spec, 'namespace'));
  }
}
