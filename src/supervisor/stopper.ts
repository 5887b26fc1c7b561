// Stopping an instance's process: the row says `stopping` first (the gate closes), requests already
// on their way drain (beforeStop), then the runtime stops the process, SIGKILL after
// `stop_timeout`. The row then says what the instance is now (`stopped`, `asleep` or `backoff`).
import type { InstanceRecord } from '../store/types.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { Runtime } from './runtime/runtime.js';
import type { TrackedInstance } from './tracked-instance.js';

export type StoppedState = 'stopped' | 'asleep' | 'backoff';

export interface StopperDeps {
  instances: InstanceRegistry;
  /** The runtime that launched the instance's process. */
  runtimeOf: (t: TrackedInstance) => Runtime;
  stopTimeoutMs: () => number;
  beforeStop?: ((record: InstanceRecord) => Promise<void>) | undefined;
  /** The process is gone: release what was held for it (cgroup, network rule). */
  afterStop?: (t: TrackedInstance) => Promise<void>;
}

export class Stopper {
  constructor(private readonly deps: StopperDeps) {}

  /** Stops the process (if any) and records `observed`; never touches the row otherwise. */
  async stop(t: TrackedInstance, observed: StoppedState): Promise<void> {
    const { instances } = this.deps;
    t.stopHealthLoop();
    const pid = t.pid;
    const runtime = this.deps.runtimeOf(t);
    if (pid !== null && runtime.alive(pid)) {
      t.stopping = true;
      instances.update(t, { observed: 'stopping' });
      try {
        const record = instances.get(t);
        if (record && this.deps.beforeStop) await this.deps.beforeStop(record).catch(() => undefined);
        const timeout = this.deps.stopTimeoutMs();
        const { killed } = await runtime.stop(pid, timeout);
        t.log.info('process stopped', { pid, killed, ...(killed ? { note: `did not exit within stop_timeout (${timeout / 1000} s) of SIGTERM` } : {}) });
      } finally {
        t.stopping = false;
      }
    }
    t.clearProcess();
    // The row first: the process is gone. Releasing its cgroup and network rule takes a moment, and
    // a next start of the instance waits for it (TenantIsolation serializes them).
    const released = this.deps.afterStop?.(t).catch(() => undefined);
    instances.update(t, { observed, pid: null, pidStartTime: null, health: observed === 'backoff' ? 'unhealthy' : 'unknown', healthFailures: 0 });
    await released;
  }
}
