// The instances the supervisor knows: their rows in the store (the truth), the in-memory handle of
// each (TrackedInstance: process, timers, operation queue), creation with a port, and the one
// way to change a row: write it, then announce it ('change'), so everything derived from state
// (routes, gates, metrics) reads it from one place.
import type { Config, ServiceConfig } from '../config/types.js';
import type { InstanceStore } from '../store/instance-store.js';
import type { InstanceRecord } from '../store/types.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import type { Logger } from '../util/logger.js';
import { UnknownInstanceError, UnknownServiceError } from './errors.js';
import type { PortAllocator } from './port-allocator.js';
import { TrackedInstance } from './tracked-instance.js';

export type InstanceChange = InstanceRecord | { service: string; id: string; removed: true };

export interface InstanceRegistryDeps {
  store: InstanceStore;
  log: Logger;
  now: () => number;
  ports: PortAllocator;
  config: () => Config;
  announce: (change: InstanceChange) => void;
}

export class InstanceRegistry {
  private readonly tracked = new Map<string, TrackedInstance>();
  /** Creations one at a time: two concurrent spawns must not be handed the same free port. */
  private creating: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: InstanceRegistryDeps) {}

  get store(): InstanceStore {
    return this.deps.store;
  }

  /** The service's definition, or UnknownServiceError naming the services that exist. */
  service(name: string): ServiceConfig {
    const config = this.deps.config();
    const service = config.services[name];
    if (!service) throw new UnknownServiceError(name, Object.keys(config.services));
    return service;
  }

  /**
   * The service's definition as it is now, else the one the caller started with: a reload may
   * have changed (or removed) it since, and decisions taken now follow the current one.
   */
  current(t: TrackedInstance, startedWith: ServiceConfig): ServiceConfig {
    return this.deps.config().services[t.service] ?? startedWith;
  }

  get(key: InstanceKey): InstanceRecord | undefined {
    return this.deps.store.get(key.service, key.id);
  }

  mustGet(key: InstanceKey): InstanceRecord {
    const record = this.get(key);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    return record;
  }

  /** The row and its handle, or UnknownInstanceError. */
  require(key: InstanceKey): { record: InstanceRecord; t: TrackedInstance } {
    const record = this.mustGet(key);
    return { record, t: this.track(record) };
  }

  track(key: InstanceKey): TrackedInstance {
    const name = formatKey(key);
    let t = this.tracked.get(name);
    if (!t) {
      t = new TrackedInstance(key.service, key.id, this.deps.log.child({ instance: name }));
      this.tracked.set(name, t);
    }
    return t;
  }

  /** Writes `patch` to the instance's row and announces the new row. */
  update(t: TrackedInstance, patch: Partial<InstanceRecord>): void {
    this.deps.store.update(t.service, t.id, patch);
    const record = this.get(t);
    if (record) this.deps.announce(record);
  }

  announce(record: InstanceRecord): void {
    this.deps.announce(record);
  }

  /** Drops the handle and the row (the port is released with it). */
  forget(t: TrackedInstance): void {
    t.dispose();
    this.tracked.delete(t.name);
    this.deps.store.delete(t.service, t.id);
    this.deps.announce({ service: t.service, id: t.id, removed: true });
  }

  /** Drops every handle (timers, watches); rows and processes stay. */
  disposeAll(): void {
    for (const t of this.tracked.values()) t.dispose();
    this.tracked.clear();
  }

  /** Creates the row with a newly allocated port (or returns the row a concurrent call created). */
  create(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    const run = this.creating.then(() => this.createNow(key, weight));
    this.creating = run.catch(() => undefined);
    return run;
  }

  /** Gives the instance another port (its own was taken by a program outside tenement). */
  async movePort(t: TrackedInstance, from: number): Promise<InstanceRecord> {
    const port = await this.deps.ports.allocate(new Set([...this.deps.store.usedPorts(), from]));
    t.log.warn('stored port is taken by another process; moving the instance', { oldPort: from, port });
    this.update(t, { port });
    return this.mustGet(t);
  }

  private async createNow(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    const existing = this.get(key);
    if (existing) return existing;
    const port = await this.deps.ports.allocate(this.deps.store.usedPorts());
    const record: InstanceRecord = {
      service: key.service,
      id: key.id,
      port,
      pid: null,
      pidStartTime: null,
      desired: 'running',
      observed: 'stopped',
      health: 'unknown',
      weight,
      healthFailures: 0,
      restartCount: 0,
      createdAt: this.deps.now(),
      startedAt: null,
      lastActivityAt: null,
      lastError: null,
      lastExit: null,
    };
    this.deps.store.insert(record);
    this.deps.log.info('instance created', { instance: formatKey(key), port });
    return record;
  }
}
