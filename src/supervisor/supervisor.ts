// The supervisor owns the lifecycle of every instance. This file is its front: the operations
// callers use (spawn, wake, restart, stop, sleep, ...) and the wiring of the parts that each own
// one job: the instance registry (rows, handles, ports), the starter (launch through a runtime,
// readiness), the stopper, the health loop, restarts with backoff, idle sleep, and adoption of
// processes an earlier controller left running. Every state change is written to the store first,
// then announced ('change'), so whatever derives from state (Caddy routes, metrics) reads one place.
import { EventEmitter } from 'node:events';
import type { Config, ServiceConfig } from '../config/types.js';
import type { InstanceStore, RouteInput } from '../store/instance-store.js';
import type { InstanceRecord } from '../store/types.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import type { Logger } from '../util/logger.js';
import { isSameProcess } from '../util/proc.js';
import { decideAdoption } from './adoption.js';
import { SpawnError, UnknownInstanceError } from './errors.js';
import { watchExit, describeExit, type ExitInfo } from './exit-watch.js';
import { HealthLoop } from './health-loop.js';
import { IdleSleep } from './idle-sleep.js';
import { removeInstanceDir } from './instance-dir.js';
import { InstanceRegistry, type InstanceChange } from './instance-registry.js';
import { PortAllocator } from './port-allocator.js';
import { decideAfterExit } from './restart-policy.js';
import { Restarts } from './restarts.js';
import { RuntimeRegistry } from './runtime/registry.js';
import { TenantIsolation } from '../isolation/tenant-isolation.js';
import { IdentityStore } from '../store/identity-store.js';
import type { Runtime } from './runtime/runtime.js';
import { Starter } from './starter.js';
import { Stopper } from './stopper.js';
import type { TrackedInstance } from './tracked-instance.js';

export { SpawnError, UnknownInstanceError, UnknownServiceError } from './errors.js';
export { UNHEALTHY_AFTER } from './health-loop.js';

export interface SupervisorOptions {
  config: Config;
  store: InstanceStore;
  log: Logger;
  now?: () => number;
  /** Requests in flight for an instance (fed by Caddy); a busy instance is never put to sleep. */
  isBusy?: (record: InstanceRecord) => boolean | Promise<boolean>;
  /** How often idle instances are looked for. */
  idleCheckMs?: number;
  /** How often adopted processes are checked for exit. */
  exitPollMs?: number;
  /**
   * Called after an instance is marked 'stopping' and before its process is signalled: the router
   * uses it to let requests already on their way to the process finish.
   */
  beforeStop?: (record: InstanceRecord) => Promise<void>;
  /** How instances are launched, by `isolation`; default: a registry using `isolation`. */
  runtimes?: RuntimeRegistry;
  /** Instances' identity, limits, sandbox and network rules; default: from the config and the host. */
  isolation?: TenantIsolation;
}

export interface SupervisorEvents {
  change: [record: InstanceChange];
  /** A restart was scheduled (crash, unhealthy, failed start). */
  restart: [key: InstanceKey, reason: string];
  /** A periodic health check finished. */
  healthCheck: [key: InstanceKey, ok: boolean];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private config: Config;
  private readonly store: InstanceStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly runtimes: RuntimeRegistry;
  private readonly instances: InstanceRegistry;
  private readonly starter: Starter;
  private readonly stopper: Stopper;
  private readonly restarts: Restarts;
  private readonly health: HealthLoop;
  private readonly idle: IdleSleep;
  private closed = false;
  readonly isolation: TenantIsolation;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.isolation = opts.isolation ?? new TenantIsolation({ config: opts.config, identities: new IdentityStore(opts.store.database), log: opts.log });
    this.runtimes = opts.runtimes ?? new RuntimeRegistry({ isolation: this.isolation });
    // Every held wake request may listen for its instance's next state.
    this.setMaxListeners(0);
    const config = () => this.config;
    const closed = () => this.closed;
    const s = this.config.settings;
    this.instances = new InstanceRegistry({
      store: this.store,
      log: this.log,
      now: this.now,
      ports: new PortAllocator(s.port_range_start, s.port_range_end),
      config,
      announce: (change) => this.emit('change', change),
    });
    this.restarts = new Restarts({
      instances: this.instances,
      settings: () => this.config.settings,
      now: this.now,
      closed,
      start: (t, service, reason) => this.starter.start(t, service, reason),
      onScheduled: (key, reason) => this.emit('restart', key, reason),
    });
    this.starter = new Starter({
      instances: this.instances,
      runtimes: this.runtimes,
      config,
      now: this.now,
      cancelRestart: (t) => this.restarts.cancel(t),
      onStarted: (t, service) => this.watch(t, service, { adopted: false }),
      isolation: this.isolation,
    });
    this.stopper = new Stopper({
      instances: this.instances,
      runtimeOf: (t) => this.runtimeOf(t),
      stopTimeoutMs: () => this.config.settings.stop_timeout * 1000,
      afterStop: (t) => this.isolation.released(t),
      beforeStop: opts.beforeStop,
    });
    this.health = new HealthLoop({
      instances: this.instances,
      intervalMs: () => this.config.settings.health_check_interval * 1000,
      closed,
      onChecked: (key, ok) => this.emit('healthCheck', key, ok),
      onUnhealthy: async (t, service, detail) => {
        await t.serialize(() => this.stopper.stop(t, 'backoff'));
        this.restarts.schedule(t, service, `unhealthy: ${detail}`);
      },
    });
    this.idle = new IdleSleep({
      list: () => this.instances.withProcess(),
      get: (key) => this.instances.get(key),
      service: (name) => this.config.services[name],
      isBusy: opts.isBusy,
      sleep: (key) => this.sleep(key),
      now: this.now,
      closed,
      log: this.log,
    });
  }

  // ---- queries -------------------------------------------------------------------------------

  list(filter?: { service?: string; id?: string }): InstanceRecord[] {
    return this.store.list(filter);
  }

  /** What routes are built from, for every instance (cheaper than list()). */
  routeInputs(): RouteInput[] {
    return this.store.routeInputs();
  }

  get(key: InstanceKey): InstanceRecord | undefined {
    return this.instances.get(key);
  }

  // ---- start-up: adopt what an earlier controller left, then spawn [instances] ----------------

  async start(): Promise<void> {
    for (const record of this.store.list()) this.restore(record);
    // Adopted instances get their network rules back before the controller says it is ready.
    await this.isolation.settled();
    const declared: Promise<unknown>[] = [];
    for (const [service, ids] of Object.entries(this.config.instances)) {
      for (const id of ids) {
        const record = this.store.get(service, id);
        if (record && record.desired !== 'stopped') continue;
        declared.push(
          this.spawn({ service, id }, { keepOnFailure: true }).catch((err: Error) =>
            this.log.error('declared instance failed to start', { instance: `${service}:${id}`, error: err.message }),
          ),
        );
      }
    }
    await Promise.all(declared);
    this.idle.start(this.opts.idleCheckMs ?? 1000);
  }

  /** Carries out the adoption decision (adoption.ts) for one row left by an earlier controller. */
  private restore(record: InstanceRecord): void {
    const log = this.log.child({ instance: formatKey(record) });
    const service = this.config.services[record.service];
    const alive = record.pid !== null && isSameProcess(record.pid, record.pidStartTime);
    const decision = decideAdoption(record, { serviceConfigured: service !== undefined, alive });
    if (decision.action === 'leave-orphan' || !service) {
      log.warn('instance belongs to a service that is not in the config; left as it is (stop it with `ten stop`)', {
        service: record.service,
        alive,
      });
      return;
    }
    const t = this.instances.track(record);
    switch (decision.action) {
      case 'adopt':
        t.pid = record.pid;
        t.startTime = record.pidStartTime;
        log.info('adopted running instance', { pid: record.pid, port: record.port });
        void this.isolation.adopted(record, record.port);
        this.watch(t, service, { adopted: true });
        return;
      case 'finish-stop':
        log.warn('finishing an interrupted stop', { pid: record.pid });
        t.pid = record.pid;
        t.startTime = record.pidStartTime;
        void t.serialize(() => this.stopper.stop(t, decision.observed));
        return;
      case 'start':
        log.info('starting instance stopped by `ten down`');
        this.starter.start(t, service, 'restore').catch((err: Error) => this.restarts.schedule(t, service, err.message));
        return;
      case 'treat-as-exit':
        log.warn('instance died while the controller was away', { reason: decision.reason });
        this.instances.update(t, { pid: null, pidStartTime: null, lastExit: 'exited while the controller was away' });
        this.onExit(t, service, { code: null, signal: null, known: false });
        return;
      case 'mark-asleep':
        this.instances.update(t, { observed: 'asleep', pid: null, pidStartTime: null });
        return;
      case 'nothing':
        return;
    }
  }

  // ---- operations ------------------------------------------------------------------------------

  /**
   * Creates the instance if needed (allocating its port once) and starts it; resolves when it is
   * healthy. A brand-new instance whose first start fails is removed again, port and all, unless
   * `keepOnFailure` (instances declared in the config), which are retried per restart policy.
   */
  async spawn(key: InstanceKey, opts: { keepOnFailure?: boolean; weight?: number } = {}): Promise<InstanceRecord> {
    const service = this.instances.service(key.service);
    let record = this.instances.get(key);
    let created = false;
    if (!record) {
      record = await this.instances.create(key, opts.weight ?? 100);
      created = true;
    }
    const t = this.instances.track(record);
    if (created) this.instances.announce(record);
    if (record.observed === 'running' || record.observed === 'starting') {
      if (t.starting) await t.starting;
      return this.instances.mustGet(key);
    }
    this.instances.update(t, { desired: 'running' });
    try {
      await this.starter.start(t, service, 'spawn');
    } catch (err) {
      if (created && !opts.keepOnFailure) {
        this.instances.forget(t);
      } else if (opts.keepOnFailure) {
        this.restarts.schedule(t, service, (err as Error).message);
      }
      throw err;
    }
    return this.instances.mustGet(key);
  }

  /** Starts a sleeping (or stopped) instance on its stored port; concurrent callers share one start. */
  async wake(key: InstanceKey): Promise<InstanceRecord> {
    const { record, t } = this.instances.require(key);
    const service = this.instances.service(key.service);
    if (record.observed === 'running' && !t.starting) return record;
    if (record.observed === 'failed')
      throw new SpawnError(formatKey(key), `instance ${formatKey(key)} has failed (${record.lastError ?? 'too many restarts'}); restart it explicitly`);
    // A restart is already scheduled: requests wait for it rather than skipping the backoff.
    if (record.observed === 'backoff' && t.restartTimer) return this.untilSettled(key);
    if (!t.starting) this.instances.update(t, { desired: 'running' });
    try {
      await this.starter.start(t, service, 'wake');
    } catch (err) {
      // A failed wake counts like any failed start: backoff, and `failed` after max_restarts.
      if (service.restart !== 'never' && !t.restartTimer) this.restarts.schedule(t, service, (err as Error).message);
      throw err;
    }
    return this.instances.mustGet(key);
  }

  /** Resolves when the instance runs again, rejects when it has failed or was stopped. */
  private untilSettled(key: InstanceKey): Promise<InstanceRecord> {
    return new Promise((resolve, reject) => {
      const onChange = (r: InstanceChange) => {
        if (r.service !== key.service || r.id !== key.id) return;
        if ('removed' in r) return done(new UnknownInstanceError(formatKey(key)));
        if (r.observed === 'running') return done(undefined, r);
        if (r.observed === 'failed' || r.desired === 'stopped') {
          done(new SpawnError(formatKey(key), `instance ${formatKey(key)} is ${r.observed}: ${r.lastError ?? 'not running'}`));
        }
      };
      const done = (err?: Error, r?: InstanceRecord) => {
        this.off('change', onChange);
        if (err) reject(err);
        else resolve(r!);
      };
      this.on('change', onChange);
    });
  }

  async restart(key: InstanceKey): Promise<InstanceRecord> {
    const { t } = this.instances.require(key);
    const service = this.instances.service(key.service);
    this.restarts.cancel(t);
    // An explicit restart is a fresh chance: a failed instance is allowed to try again.
    this.instances.update(t, { desired: 'running', healthFailures: 0 });
    await t.serialize(() => this.stopper.stop(t, 'stopped'));
    await this.starter.start(t, service, 'restart');
    return this.instances.mustGet(key);
  }

  /** Stops the instance; with `forget` (the default) its record and port are released too. */
  async stop(key: InstanceKey, opts: { forget?: boolean } = {}): Promise<void> {
    const { t } = this.instances.require(key);
    const service = this.config.services[key.service];
    this.restarts.cancel(t);
    this.instances.update(t, { desired: 'stopped' });
    await t.serialize(async () => {
      await this.stopper.stop(t, 'stopped');
      if (service && !service.storage_persist) {
        const dir = removeInstanceDir(this.config.settings.data_dir, key);
        this.log.info('instance data deleted (storage_persist = false)', { instance: formatKey(key), dir });
      }
    });
    if (opts.forget ?? true) this.instances.forget(t);
  }

  /** Puts an instance to sleep: process stopped, record, port and data kept. */
  async sleep(key: InstanceKey): Promise<void> {
    const { t } = this.instances.require(key);
    // An instance whose service left the config is not put to sleep (it could not be woken).
    this.instances.service(key.service);
    await t.serialize(async () => {
      const current = this.instances.mustGet(key);
      if (current.observed !== 'running') return;
      this.instances.update(t, { desired: 'asleep' });
      await this.stopper.stop(t, 'asleep');
      t.log.info('instance is asleep (idle)');
    });
  }

  /** Sets the traffic weight (0-100) of an instance on its service route. */
  setWeight(key: InstanceKey, weight: number): InstanceRecord {
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw new RangeError(`weight must be a whole number from 0 to 100, got ${weight}`);
    const { record, t } = this.instances.require(key);
    if (record.weight !== weight) this.instances.update(t, { weight });
    return this.instances.mustGet(key);
  }

  /** Marks request activity (fed by Caddy's access log). */
  touch(key: InstanceKey, at = this.now()): void {
    this.store.touchActivity(key.service, key.id, at);
  }

  /** Stops every instance gracefully (`ten down`); records are kept so the next start restores them. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.store.list().map(async (record) => {
        const t = this.instances.track(record);
        this.restarts.cancel(t);
        if (record.pid === null && !t.pid) return;
        if (!t.pid && record.pid !== null && isSameProcess(record.pid, record.pidStartTime)) {
          t.pid = record.pid;
          t.startTime = record.pidStartTime;
        }
        await t.serialize(() => this.stopper.stop(t, 'stopped'));
      }),
    );
    await this.isolation.removeNetRulesIfIdle().catch((err: Error) => this.log.warn('could not remove the network rules', { error: err.message }));
  }

  /** Stops watching (timers, exit listeners) and leaves every tenant process running. */
  detach(): void {
    this.closed = true;
    // After a handover the next controller owns the instances: no clean-up of ours may touch them.
    this.isolation.detach();
    this.idle.stop();
    this.instances.disposeAll();
  }

  updateConfig(config: Config): void {
    this.config = config;
    this.isolation.updateConfig(config);
  }

  // ---- watching a running process ------------------------------------------------------------

  private runtimeOf(t: TrackedInstance): Runtime {
    // A service removed from the config can still have a process to stop; it ran as a plain process
    // unless its (former) service said otherwise.
    return this.runtimes.for(this.config.services[t.service]?.isolation ?? 'process');
  }

  /** From a healthy start (or an adoption) on: notice the exit, check health periodically. */
  private watch(t: TrackedInstance, service: ServiceConfig, how: { adopted: boolean }): void {
    if (t.pid === null) return;
    const pid = t.pid;
    t.exitWatch?.cancel();
    t.exitWatch = watchExit(
      { pid, startTime: t.startTime, child: t.child },
      (info) => {
        if (t.stopping || t.pid !== pid) return;
        // The leader is gone; nothing it left in its group may outlive it.
        this.runtimeOf(t).kill(pid);
        this.onExit(t, service, info);
      },
      this.opts.exitPollMs ?? 500,
    );
    this.health.schedule(t, service, how.adopted ? 0 : this.config.settings.health_check_interval * 1000);
  }

  private onExit(t: TrackedInstance, service: ServiceConfig, info: ExitInfo): void {
    if (this.closed) return;
    t.stopHealthLoop();
    t.clearProcess();
    // Killed by the OOM killer is worth naming: the fix is memory_limit_mb, not the code.
    const what = this.isolation.exitReason(t) ?? describeExit(info);
    void this.isolation.released(t);
    // The restart policy is read now, not when the process started: a reloaded policy applies at once.
    const policy = this.instances.current(t, service).restart;
    const decision = decideAfterExit(info, policy);
    t.log.warn('process exited', { exit: what, policy, restart: decision.restart });
    this.instances.update(t, { pid: null, pidStartTime: null, lastExit: what, health: 'unknown' });
    if (decision.restart) {
      this.restarts.schedule(t, service, what);
    } else {
      this.instances.update(t, { observed: decision.observed, desired: 'stopped', lastError: decision.lastError });
    }
  }
}
