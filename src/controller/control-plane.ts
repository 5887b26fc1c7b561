// The operations the API offers, implemented on the supervisor and the router. Traffic changes
// (weight, deploy, route) are each one Caddy change, pushed before the call returns.
import {
  ControlPlaneError,
  type ControlPlane,
  type ControllerHealth,
  type DeployResult,
  type InstanceResources,
  type PartHealth,
  type RollOutcome,
  type ServiceRollPlan,
  type ServiceRoller,
} from '../api/contract.js';
import { instanceHost } from '../../caddy/routes.js';
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import { probe } from '../supervisor/health-probe.js';
import { UnknownInstanceError, UnknownServiceError, type Supervisor } from '../supervisor/supervisor.js';
import type { Router } from '../routing/router.js';
import type { Logger } from '../util/logger.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import { VERSION } from '../version.js';
import type { StorageMeter, StorageUsage } from '../storage/storage-meter.js';

export interface ControlPlaneDeps {
  supervisor: Supervisor;
  router: Router | undefined;
  config: () => Config;
  /** Public base of tenant URLs, e.g. http://{host}:8000 (host filled in per instance). */
  publicPort: number | undefined;
  domain: string;
  startedAt: number;
  parts: () => Record<string, PartHealth>;
  log: Logger;
  /** Storage measurements of instance data folders. */
  storage?: StorageMeter;
  /** Rolling restarts after template changes (the config reloader). */
  roller?: ServiceRoller | undefined;
  /** What an instance's cgroup uses now (the tenant isolation). */
  usage?: ResourceMeter;
}

/** Reads an instance's cgroup; null when it has none on this host. */
export interface ResourceMeter {
  memoryBytes(ref: InstanceKey): number | null;
  cpuSeconds(ref: InstanceKey): number | null;
}

export class ControllerControlPlane implements ControlPlane {
  constructor(private readonly deps: ControlPlaneDeps) {}

  storage(key: InstanceKey): StorageUsage | null {
    return this.deps.storage?.usage(key.service, key.id) ?? null;
  }

  measureStorage(key: InstanceKey): Promise<StorageUsage> {
    if (!this.deps.storage) throw new ControlPlaneError('unavailable', 'storage is not measured by this controller');
    return this.deps.storage.measure(key.service, key.id);
  }

  resources(record: InstanceRecord): InstanceResources {
    const service = this.deps.config().services[record.service];
    // Only a running process has a cgroup worth reading; asleep or stopped instances are not touched.
    const meter = record.observed === 'running' && record.pid !== null ? this.deps.usage : undefined;
    return {
      memoryUsedBytes: meter?.memoryBytes(record) ?? null,
      memoryLimitBytes: service?.memory_limit_mb === undefined ? null : service.memory_limit_mb * 1024 * 1024,
      cpuTimeSecs: meter?.cpuSeconds(record) ?? null,
      cpuShares: service?.cpu_shares ?? null,
    };
  }

  list(filter?: { service?: string; id?: string }): InstanceRecord[] {
    return this.deps.supervisor.list(filter);
  }

  get(key: InstanceKey): InstanceRecord | undefined {
    return this.deps.supervisor.get(key);
  }

  services(): string[] {
    return Object.keys(this.deps.config().services);
  }

  private roller(): ServiceRoller {
    if (!this.deps.roller) throw new ControlPlaneError('unavailable', 'rolling restarts are not available in this controller');
    return this.deps.roller;
  }

  describeService(service: string): ServiceRollPlan {
    return this.roller().describeService(service);
  }

  rollService(service: string): Promise<RollOutcome> {
    return this.roller().rollService(service);
  }

  spawn(key: InstanceKey): Promise<InstanceRecord> {
    return this.deps.supervisor.spawn(key);
  }

  stop(key: InstanceKey): Promise<void> {
    return this.deps.supervisor.stop(key);
  }

  wake(key: InstanceKey): Promise<InstanceRecord> {
    return this.deps.supervisor.wake(key);
  }

  restart(key: InstanceKey): Promise<InstanceRecord> {
    return this.deps.supervisor.restart(key);
  }

  async setWeight(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    const record = this.deps.supervisor.setWeight(key, weight);
    await this.deps.router?.pushNow();
    return record;
  }

  async deploy(service: string, version: string, weight: number, timeoutSec: number): Promise<DeployResult> {
    if (!this.deps.config().services[service]) throw new UnknownServiceError(service, this.services());
    const key = { service, id: version };
    if (this.deps.supervisor.get(key)) {
      throw new ControlPlaneError('conflict', `${formatKey(key)} already exists; shift traffic with \`ten weight\` or \`ten route\`, or stop it first`);
    }
    const router = this.deps.router;
    const pushesBefore = router?.sync.stats.pushes ?? 0;
    // Invisible to Caddy until healthy: the deploy is one route change, or none if it fails.
    router?.hide(key);
    try {
      await withDeadline(this.deps.supervisor.spawn(key, { weight: 0 }), timeoutSec * 1000, async () => {
        await this.deps.supervisor.stop(key).catch(() => undefined);
        return new ControlPlaneError('timeout', `${formatKey(key)} was not healthy within the deploy timeout (${timeoutSec} s); it was stopped and routes are unchanged`);
      });
      this.deps.supervisor.setWeight(key, weight);
    } catch (err) {
      router?.unhide(key);
      throw err;
    }
    router?.unhide(key);
    await router?.pushNow();
    const instance = this.deps.supervisor.get(key);
    if (!instance) throw new UnknownInstanceError(formatKey(key));
    this.deps.log.info('deployed', { instance: formatKey(key), weight });
    return { instance, route_changes: (router?.sync.stats.pushes ?? 0) - pushesBefore };
  }

  async route(service: string, from: string, to: string): Promise<{ from: InstanceRecord; to: InstanceRecord }> {
    const a = { service, id: from };
    const b = { service, id: to };
    for (const k of [a, b]) if (!this.deps.supervisor.get(k)) throw new UnknownInstanceError(formatKey(k));
    const target = this.deps.supervisor.get(b)!;
    if (target.observed === 'failed') throw new ControlPlaneError('conflict', `${formatKey(b)} has failed; it cannot take traffic`);
    // Both weights change before the push: Caddy sees one change.
    this.deps.supervisor.setWeight(b, 100);
    this.deps.supervisor.setWeight(a, 0);
    await this.deps.router?.pushNow();
    return { from: this.deps.supervisor.get(a)!, to: this.deps.supervisor.get(b)! };
  }

  async probe(key: InstanceKey): Promise<{ ok: boolean; detail: string }> {
    const record = this.deps.supervisor.get(key);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    if (record.observed !== 'running') return { ok: false, detail: `instance is ${record.observed}` };
    const service = this.deps.config().services[key.service];
    return probe(record.port, service?.health, 5000);
  }

  health(): ControllerHealth {
    const parts = this.deps.parts();
    const values = Object.values(parts);
    const down = parts.store ? !parts.store.ok : false;
    return {
      status: down ? 'down' : values.every((p) => p.ok) ? 'ok' : 'degraded',
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - this.deps.startedAt) / 1000),
      parts,
    };
  }

  url(record: InstanceRecord): string | null {
    if (this.deps.publicPort === undefined) return null;
    const host = instanceHost(this.deps.domain, record.service, record.id);
    return this.deps.publicPort === 80 ? `http://${host}` : `http://${host}:${this.deps.publicPort}`;
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Promise<Error>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void onTimeout().then(reject);
    }, ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
