// The periodic health check of each running instance (every `health_check_interval`; at once for
// an adopted one). The verdict on one probe is a pure function; UNHEALTHY_AFTER consecutive
// failures make the instance unhealthy, and the supervisor restarts it unless `restart = "never"`.
import type { RestartPolicy, ServiceConfig } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { InstanceKey } from '../util/instance-key.js';
import { probe as defaultProbe, type ProbeResult } from './health-probe.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { TrackedInstance } from './tracked-instance.js';

/** Consecutive failed checks after which an instance is unhealthy and restarted. */
export const UNHEALTHY_AFTER = 3;

/**
 * A fixed 5 s budget per probe, not the interval: a short interval must not turn a briefly slow app
 * (a loaded machine) into three failures and a restart.
 */
export const PROBE_TIMEOUT_MS = 5000;

export type HealthVerdict =
  | { state: 'healthy'; patch: Partial<InstanceRecord> | undefined }
  | { state: 'degraded'; failures: number; patch: Partial<InstanceRecord> }
  | { state: 'unhealthy'; failures: number; patch: Partial<InstanceRecord>; restart: boolean };

/** What one probe result means for the instance, given its row and its restart policy. */
export function judgeHealth(record: Pick<InstanceRecord, 'health' | 'observed' | 'healthFailures'>, result: ProbeResult, policy: RestartPolicy): HealthVerdict {
  if (result.ok) {
    const changed = record.health !== 'healthy' || record.observed !== 'running';
    return { state: 'healthy', patch: changed ? { health: 'healthy', healthFailures: 0, observed: 'running' } : undefined };
  }
  const failures = record.healthFailures + 1;
  if (failures < UNHEALTHY_AFTER) {
    return { state: 'degraded', failures, patch: { health: 'degraded', healthFailures: failures, lastError: result.detail } };
  }
  return {
    state: 'unhealthy',
    failures,
    patch: { health: 'unhealthy', healthFailures: failures, lastError: `unhealthy: ${result.detail}` },
    // `never` leaves an unhealthy instance running (and checked).
    restart: policy !== 'never',
  };
}

export interface HealthLoopDeps {
  instances: InstanceRegistry;
  intervalMs: () => number;
  closed: () => boolean;
  probe?: (port: number, health: string | undefined, timeoutMs: number) => Promise<ProbeResult>;
  onChecked: (key: InstanceKey, ok: boolean) => void;
  /** Stop and restart the instance (its verdict was unhealthy and its policy restarts). */
  onUnhealthy: (t: TrackedInstance, service: ServiceConfig, detail: string) => Promise<void>;
}

export class HealthLoop {
  private readonly probe: NonNullable<HealthLoopDeps['probe']>;

  constructor(private readonly deps: HealthLoopDeps) {
    this.probe = deps.probe ?? defaultProbe;
  }

  /** (Re)arms the instance's next check in `inMs`. */
  schedule(t: TrackedInstance, service: ServiceConfig, inMs: number): void {
    t.stopHealthLoop();
    t.healthTimer = setTimeout(() => void this.check(t, service), inMs);
    t.healthTimer.unref();
  }

  private async check(t: TrackedInstance, service: ServiceConfig): Promise<void> {
    const { instances, closed } = this.deps;
    t.healthTimer = undefined;
    if (closed() || t.pid === null || t.stopping) return;
    const record = instances.get(t);
    if (!record) return;
    const result = await this.probe(record.port, service.health, PROBE_TIMEOUT_MS);
    if (closed() || t.pid === null || t.stopping) return;
    this.deps.onChecked({ service: t.service, id: t.id }, result.ok);
    const verdict = judgeHealth(record, result, instances.current(t, service).restart);
    if (verdict.state === 'degraded') t.log.warn('health check failed', { failures: verdict.failures, detail: result.detail });
    if (verdict.state === 'unhealthy') t.log.error('instance unhealthy', { failures: verdict.failures, detail: result.detail });
    if (verdict.patch) instances.update(t, verdict.patch);
    if (verdict.state === 'unhealthy' && verdict.restart) {
      await this.deps.onUnhealthy(t, service, result.detail);
      return;
    }
    this.schedule(t, service, this.deps.intervalMs());
  }
}
