// isolation = "namespace" (the default, as in the original): the instance runs in a bubblewrap
// sandbox: its own PID, IPC and mount namespaces and /proc, private /tmp and /dev/shm, the system
// read-only, only its DATA_DIR writable, nothing of the data root visible; under its own uid with no
// groups, capabilities or new privileges; in its cgroup. The network namespace is shared (Caddy
// dials the tenant on 127.0.0.1); per-uid nftables rules keep it off other ports. What exactly is
// mounted is decided in src/isolation/sandbox-argv.ts.
//
// Stopping works like "process" (SIGTERM to the group, SIGKILL after stop_timeout), but the
// instance is alive exactly as long as the bwrap process tenement launched: it exits once the
// namespace's first process has, and the kernel tears the whole PID namespace down with that one.
// Watching the group instead would wait for the namespace's first process to be *reaped*: bwrap
// leaves it to whoever adopts orphans (pid 1, or a subreaper), which may take seconds (an init that
// reaps on a timer) or never happen (the controller itself as a container's pid 1). What escaped the
// namespace's teardown is still killed with the instance's cgroup when it is released.
import { isAlive } from '../../util/proc.js';
import { stopGroup } from '../process-group.js';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process.js';
import { LaunchError, type LaunchedProcess, type LaunchSpec, type StopResult } from './runtime.js';

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

  override alive(pid: number): boolean {
    return isAlive(pid);
  }

  override stop(pid: number, timeoutMs: number): Promise<StopResult> {
    return stopGroup(pid, timeoutMs, isAlive);
  }
}
