// Carrying out restart decisions (restart-policy.ts): record the restart, wait the backoff in
// `backoff`, start again; or mark the instance `failed` when it restarted too often. A restart that
// fails to start is itself followed by the next decision.
import type { ServiceConfig, Settings } from '../config/types.js';
import type { InstanceKey } from '../util/instance-key.js';
import type { InstanceRegistry } from './instance-registry.js';
import { decideRestart, restartReason } from './restart-policy.js';
import type { TrackedInstance } from './tracked-instance.js';

export interface RestartsDeps {
  instances: InstanceRegistry;
  settings: () => Settings;
  now: () => number;
  closed: () => boolean;
  start: (t: TrackedInstance, service: ServiceConfig, reason: string) => Promise<void>;
  /** A restart was scheduled (for metrics and tests). */
  onScheduled: (key: InstanceKey, reason: string) => void;
}

export class Restarts {
  constructor(private readonly deps: RestartsDeps) {}

  schedule(t: TrackedInstance, service: ServiceConfig, why: string): void {
    const { instances, closed } = this.deps;
    if (closed()) return;
    const reason = restartReason(why);
    this.cancel(t);
    const s = this.deps.settings();
    const now = this.deps.now();
    const recent = instances.store.restartsSince(t.service, t.id, now - s.restart_window * 1000);
    const decision = decideRestart(recent, s, reason);
    if (decision.action === 'give-up') {
      t.log.error('instance failed: giving up restarting', { reason: decision.message });
      instances.update(t, { observed: 'failed', health: 'failed', lastError: decision.message, pid: null, pidStartTime: null });
      return;
    }
    instances.store.recordRestart(t.service, t.id, reason, now);
    this.deps.onScheduled({ service: t.service, id: t.id }, reason);
    const record = instances.mustGet(t);
    instances.update(t, { observed: 'backoff', restartCount: record.restartCount + 1, lastError: reason });
    t.log.info('restart scheduled', { inMs: decision.delayMs, attempt: decision.attempt, reason });
    t.restartTimer = setTimeout(() => {
      t.restartTimer = undefined;
      if (closed()) return;
      this.deps.start(t, service, `restart after: ${reason}`).catch((err: Error) => {
        if (closed() || !instances.get(t)) return;
        this.schedule(t, service, err.message);
      });
    }, decision.delayMs);
  }

  cancel(t: TrackedInstance): void {
    if (t.restartTimer) clearTimeout(t.restartTimer);
    t.restartTimer = undefined;
  }
}
