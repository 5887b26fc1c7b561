// The supervisor owns the lifecycle of every instance: spawn, readiness, health checks, restarts
// with backoff, sleep/wake, stop, and adoption of processes left running by an earlier controller.
// Every state change is written to the store first, then announced ('change'), so whatever derives
// from state (Caddy routes, metrics) reads it from one place.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { serviceHash } from '../config/service-hash.js';
import type { Config, ServiceConfig } from '../config/types.js';
import type { InstanceStore } from '../store/instance-store.js';
import type { InstanceRecord } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import { isSameProcess } from '../util/proc.js';
import { TimeoutError } from '../util/wait.js';
import { backoffDelay } from './backoff.js';
import { describeExit, watchExit, type ExitInfo } from './exit-watch.js';
import { probe, type ProbeResult } from './health-probe.js';
import { launch, tailFile } from './launch.js';
import { instancePaths } from './layout.js';
import { isPortFree, PortAllocator } from './port-allocator.js';
import { groupAlive, signalGroup, stopGroup } from './process-group.js';
import { buildLaunchSpec } from './spawn-spec.js';
import { TrackedInstance } from './tracked-instance.js';

/** Consecutive failed checks after which an instance is unhealthy and restarted. */
export const UNHEALTHY_AFTER = 3;

export class SpawnError extends Error {
  constructor(
    readonly instance: string,
    message: string,
    readonly logTail: string[] = [],
  ) {
    super(logTail.length ? `${message}\nlast output of ${instance}:\n  ${logTail.join('\n  ')}` : message);
    this.name = 'SpawnError';
  }
}

export class UnknownServiceError extends Error {
  constructor(service: string, known: string[]) {
    super(`service "${service}" is not defined in the config (defined: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownServiceError';
  }
}

export class UnknownInstanceError extends Error {
  constructor(key: string) {
    super(`instance ${key} does not exist`);
    this.name = 'UnknownInstanceError';
  }
}

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
}

export interface SupervisorEvents {
  change: [record: InstanceRecord | { service: string; id: string; removed: true }];
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
  private readonly tracked = new Map<string, TrackedInstance>();
  private readonly ports: PortAllocator;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.ports = new PortAllocator(this.config.settings.port_range_start, this.config.settings.port_range_end);
    // Every held wake request may listen for its instance's next state.
    this.setMaxListeners(0);
  }

  // ---- queries -------------------------------------------------------------------------------

  list(filter?: { service?: string; id?: string }): InstanceRecord[] {
    return this.store.list(filter);
  }

  get(key: InstanceKey): InstanceRecord | undefined {
    return this.store.get(key.service, key.id);
  }

  // ---- start-up: adopt what an earlier controller left, then spawn [instances] ----------------

  async start(): Promise<void> {
    for (const record of this.store.list()) this.restore(record);
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
    this.idleTimer = setInterval(() => void this.sleepIdle(), this.opts.idleCheckMs ?? 1000);
    this.idleTimer.unref();
  }

  private restore(record: InstanceRecord): void {
    const key = formatKey(record);
    const log = this.log.child({ instance: key });
    const service = this.config.services[record.service];
    const alive = record.pid !== null && isSameProcess(record.pid, record.pidStartTime);
    if (!service) {
      log.warn('instance belongs to a service that is not in the config; left as it is (stop it with `ten stop`)', {
        service: record.service,
        alive,
      });
      return;
    }
    const t = this.track(record);
    if (record.desired === 'running' && alive) {
      t.pid = record.pid;
      t.startTime = record.pidStartTime;
      log.info('adopted running instance', { pid: record.pid, port: record.port });
      this.afterStarted(t, service, { adopted: true });
      return;
    }
    if (alive && record.pid !== null) {
      // It should not be running (asleep or stopped) but is: the last controller died mid-stop.
      log.warn('finishing an interrupted stop', { pid: record.pid });
      t.pid = record.pid;
      t.startTime = record.pidStartTime;
      void this.serialize(t, () => this.stopProcess(t, service, record.desired === 'asleep' ? 'asleep' : 'stopped'));
      return;
    }
    if (record.desired === 'running' && record.observed === 'stopped') {
      // Stopped on purpose by `ten down`: this start brings it back.
      log.info('starting instance stopped by `ten down`');
      this.startShared(t, service, 'restore').catch((err: Error) => this.scheduleRestart(t, service, err.message));
      return;
    }
    if (record.desired === 'running' && record.observed !== 'failed') {
      const why = record.pid === null ? 'was not running' : `process ${record.pid} is gone (or its pid was reused)`;
      log.warn('instance died while the controller was away', { reason: why });
      this.update(t, { pid: null, pidStartTime: null, lastExit: 'exited while the controller was away' });
      this.handleExit(t, service, { code: null, signal: null, known: false });
      return;
    }
    if (record.desired === 'asleep' && record.observed !== 'asleep') this.update(t, { observed: 'asleep', pid: null, pidStartTime: null });
  }

  // ---- operations ------------------------------------------------------------------------------

  /**
   * Creates the instance if needed (allocating its port once) and starts it; resolves when it is
   * healthy. A brand-new instance whose first start fails is removed again, port and all, unless
   * `keepOnFailure` (instances declared in the config), which are retried per restart policy.
   */
  async spawn(key: InstanceKey, opts: { keepOnFailure?: boolean; weight?: number } = {}): Promise<InstanceRecord> {
    const service = this.service(key.service);
    let record = this.store.get(key.service, key.id);
    let created = false;
    if (!record) {
      record = await this.create(key, opts.weight ?? 100);
      created = true;
    }
    const t = this.track(record);
    if (created) this.emitRecord(record);
    if (record.observed === 'running' || record.observed === 'starting') {
      if (t.starting) await t.starting;
      return this.mustGet(key);
    }
    this.update(t, { desired: 'running' });
    try {
      await this.startShared(t, service, 'spawn');
    } catch (err) {
      if (created && !opts.keepOnFailure) {
        this.forget(t);
      } else if (opts.keepOnFailure) {
        this.scheduleRestart(t, service, (err as Error).message);
      }
      throw err;
    }
    return this.mustGet(key);
  }

  /** Starts a sleeping (or stopped) instance on its stored port; concurrent callers share one start. */
  async wake(key: InstanceKey): Promise<InstanceRecord> {
    const record = this.store.get(key.service, key.id);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    const service = this.service(key.service);
    const t = this.track(record);
    if (record.observed === 'running' && !t.starting) return record;
    if (record.observed === 'failed') throw new SpawnError(formatKey(key), `instance ${formatKey(key)} has failed (${record.lastError ?? 'too many restarts'}); restart it explicitly`);
    // A restart is already scheduled: requests wait for it rather than skipping the backoff.
    if (record.observed === 'backoff' && t.restartTimer) return this.untilSettled(key);
    if (!t.starting) this.update(t, { desired: 'running' });
    try {
      await this.startShared(t, service, 'wake');
    } catch (err) {
      // A failed wake counts like any failed start: backoff, and `failed` after max_restarts.
      if (service.restart !== 'never' && !t.restartTimer) this.scheduleRestart(t, service, (err as Error).message);
      throw err;
    }
    return this.mustGet(key);
  }

  /** Resolves when the instance runs again, rejects when it has failed or was stopped. */
  private untilSettled(key: InstanceKey): Promise<InstanceRecord> {
    return new Promise((resolve, reject) => {
      const onChange = (r: InstanceRecord | { service: string; id: string; removed: true }) => {
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
    const record = this.store.get(key.service, key.id);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    const service = this.service(key.service);
    const t = this.track(record);
    this.cancelRestart(t);
    // An explicit restart is a fresh chance: a failed instance is allowed to try again.
    this.update(t, { desired: 'running', healthFailures: 0 });
    await this.serialize(t, () => this.stopProcess(t, service, 'stopped'));
    await this.startShared(t, service, 'restart');
    return this.mustGet(key);
  }

  /** Stops the instance; with `forget` (the default) its record and port are released too. */
  async stop(key: InstanceKey, opts: { forget?: boolean } = {}): Promise<void> {
    const record = this.store.get(key.service, key.id);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    const t = this.track(record);
    const service = this.config.services[key.service];
    this.cancelRestart(t);
    this.update(t, { desired: 'stopped' });
    await this.serialize(t, async () => {
      await this.stopProcess(t, service, 'stopped');
      if (service && !service.storage_persist) this.removeInstanceDir(key);
    });
    if (opts.forget ?? true) this.forget(t);
  }

  /** Puts an instance to sleep: process stopped, record, port and data kept. */
  async sleep(key: InstanceKey): Promise<void> {
    const record = this.store.get(key.service, key.id);
    if (!record) throw new UnknownInstanceError(formatKey(key));
    const t = this.track(record);
    const service = this.service(key.service);
    await this.serialize(t, async () => {
      const current = this.mustGet(key);
      if (current.observed !== 'running') return;
      this.update(t, { desired: 'asleep' });
      await this.stopProcess(t, service, 'asleep');
      t.log.info('instance is asleep (idle)');
    });
  }

  /** Sets the traffic weight (0-100) of an instance on its service route. */
  setWeight(key: InstanceKey, weight: number): InstanceRecord {
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw new RangeError(`weight must be a whole number from 0 to 100, got ${weight}`);
    const record = this.mustGet(key);
    if (record.weight !== weight) this.update(this.track(record), { weight });
    return this.mustGet(key);
  }

  /** Marks request activity (fed by Caddy's access log). */
  touch(key: InstanceKey, at = this.now()): void {
    this.store.touchActivity(key.service, key.id, at);
  }

  /** Stops every instance gracefully (`ten down`); records are kept so the next start restores them. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.store.list().map(async (record) => {
        const t = this.track(record);
        const service = this.config.services[record.service];
        this.cancelRestart(t);
        if (record.pid === null && !t.pid) return;
        if (!t.pid && record.pid !== null && isSameProcess(record.pid, record.pidStartTime)) {
          t.pid = record.pid;
          t.startTime = record.pidStartTime;
        }
        await this.serialize(t, () => this.stopProcess(t, service, 'stopped'));
      }),
    );
  }

  /** Stops watching (timers, exit listeners) and leaves every tenant process running. */
  detach(): void {
    this.closed = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const t of this.tracked.values()) t.dispose();
    this.tracked.clear();
  }

  updateConfig(config: Config): void {
    this.config = config;
  }

  // ---- internals -------------------------------------------------------------------------------

  private service(name: string): ServiceConfig {
    const service = this.config.services[name];
    if (!service) throw new UnknownServiceError(name, Object.keys(this.config.services));
    return service;
  }

  private mustGet(key: InstanceKey): InstanceRecord {
    const r = this.store.get(key.service, key.id);
    if (!r) throw new UnknownInstanceError(formatKey(key));
    return r;
  }

  /** Creations one at a time: two concurrent spawns must not be handed the same free port. */
  private creating: Promise<unknown> = Promise.resolve();

  private create(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    const run = this.creating.then(() => this.createNow(key, weight));
    this.creating = run.catch(() => undefined);
    return run;
  }

  private async createNow(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    const existing = this.store.get(key.service, key.id);
    if (existing) return existing;
    const port = await this.ports.allocate(this.store.usedPorts());
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
      createdAt: this.now(),
      startedAt: null,
      lastActivityAt: null,
      lastError: null,
      lastExit: null,
    };
    this.store.insert(record);
    this.log.info('instance created', { instance: formatKey(key), port });
    return record;
  }

  private track(record: InstanceRecord): TrackedInstance {
    const name = formatKey(record);
    let t = this.tracked.get(name);
    if (!t) {
      t = new TrackedInstance(record.service, record.id, this.log.child({ instance: name }));
      this.tracked.set(name, t);
    }
    return t;
  }

  private forget(t: TrackedInstance): void {
    t.dispose();
    this.tracked.delete(t.name);
    this.store.delete(t.service, t.id);
    this.emit('change', { service: t.service, id: t.id, removed: true });
  }

  private update(t: TrackedInstance, patch: Partial<InstanceRecord>): void {
    this.store.update(t.service, t.id, patch);
    const record = this.store.get(t.service, t.id);
    if (record) this.emitRecord(record);
  }

  private emitRecord(record: InstanceRecord): void {
    this.emit('change', record);
  }

  /** Runs operations on one instance one at a time; other instances are never delayed by it. */
  private serialize<T>(t: TrackedInstance, fn: () => Promise<T>): Promise<T> {
    const run = t.queue.then(fn, fn);
    t.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private startShared(t: TrackedInstance, service: ServiceConfig, reason: string): Promise<void> {
    if (!t.starting) {
      t.starting = this.serialize(t, () => this.startProcess(t, service, reason)).finally(() => {
        t.starting = undefined;
      });
    }
    return t.starting;
  }

  private async startProcess(t: TrackedInstance, startWith: ServiceConfig, reason: string): Promise<void> {
    // Every start uses the service's current definition (a config reload may have changed it since
    // the caller looked it up, e.g. a restart scheduled before the reload).
    const service = this.config.services[t.service] ?? startWith;
    let record = this.mustGet(t);
    if (record.observed === 'running' && t.pid && isSameProcess(t.pid, t.startTime)) return;
    this.cancelRestart(t);
    t.stopHealthLoop();
    if (!(await isPortFree(record.port))) {
      // Something outside tenement took the port while the instance was down; moving is better
      // than failing, and the route follows the stored port.
      const port = await this.ports.allocate(new Set([...this.store.usedPorts(), record.port]));
      t.log.warn('stored port is taken by another process; moving the instance', { oldPort: record.port, port });
      this.update(t, { port });
      record = this.mustGet(t);
    }
    const paths = instancePaths(this.config.settings.data_dir, t.service, t.id);
    fs.mkdirSync(paths.instanceDir, { recursive: true });
    const spec = buildLaunchSpec(this.config, service, { service: t.service, id: t.id, port: record.port });
    this.update(t, { observed: 'starting', health: 'unknown', healthFailures: 0, lastError: null });
    let launched;
    try {
      launched = await launch(spec);
    } catch (err) {
      const message = `${t.name} could not be started: ${(err as Error).message}`;
      this.update(t, { observed: 'stopped', lastError: message });
      throw new SpawnError(t.name, message);
    }
    t.pid = launched.pid;
    t.startTime = launched.startTime;
    t.child = launched.child;
    this.update(t, { pid: launched.pid, pidStartTime: launched.startTime, startedAt: this.now(), configHash: serviceHash(this.config, service) });
    t.log.info('process started', { pid: launched.pid, port: record.port, reason });

    let exited: ExitInfo | undefined;
    const earlyExit = watchExit({ pid: launched.pid, startTime: launched.startTime, child: launched.child }, (info) => {
      exited = info;
    });
    try {
      await this.waitReady(service, record.port, () => exited);
    } catch (err) {
      earlyExit.cancel();
      if (!exited) await stopGroup(launched.pid, this.config.settings.stop_timeout * 1000).catch(() => undefined);
      else signalGroup(launched.pid, 'SIGKILL');
      t.clearProcess();
      const tail = [...tailFile(spec.stderrLog, 10), ...tailFile(spec.stdoutLog, 5)].slice(-10);
      const why = exited ? `process ${describeExit(exited)} before it became healthy` : (err as Error).message;
      const message = `${t.name} failed to start: ${why}`;
      this.update(t, {
        observed: 'stopped',
        health: 'unknown',
        pid: null,
        pidStartTime: null,
        lastError: message,
        lastExit: exited ? describeExit(exited) : 'killed: not healthy in time',
      });
      t.log.error('start failed', { reason: why });
      throw new SpawnError(t.name, message, tail);
    }
    earlyExit.cancel();
    this.update(t, { observed: 'running', health: 'healthy', healthFailures: 0, lastActivityAt: this.now() });
    this.afterStarted(t, service, { adopted: false });
  }

  private async waitReady(service: ServiceConfig, port: number, exited: () => ExitInfo | undefined): Promise<void> {
    const deadline = this.now() + service.startup_timeout * 1000;
    let interval = 5;
    let last: ProbeResult | undefined;
    for (;;) {
      if (exited()) throw new Error('exited');
      const left = deadline - this.now();
      if (left <= 0) {
        throw new TimeoutError(`not healthy within startup_timeout (${service.startup_timeout} s)${last ? `: last check ${last.detail}` : ''}`);
      }
      last = await probe(port, service.health, Math.min(left, 2000));
      if (last.ok) return;
      if (exited()) throw new Error('exited');
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - this.now()))));
      // Short polls first: most apps are up within tens of milliseconds, and every one counts on a wake.
      interval = Math.min(interval * 2, 50);
    }
  }

  private afterStarted(t: TrackedInstance, service: ServiceConfig, how: { adopted: boolean }): void {
    if (t.pid === null) return;
    const pid = t.pid;
    t.exitWatch?.cancel();
    t.exitWatch = watchExit(
      { pid, startTime: t.startTime, child: t.child },
      (info) => {
        if (t.stopping || t.pid !== pid) return;
        // The leader is gone; nothing it left in its group may outlive it.
        signalGroup(pid, 'SIGKILL');
        this.handleExit(t, service, info);
      },
      this.opts.exitPollMs ?? 500,
    );
    this.scheduleHealthCheck(t, service, how.adopted ? 0 : this.config.settings.health_check_interval * 1000);
  }

  private handleExit(t: TrackedInstance, service: ServiceConfig, info: ExitInfo): void {
    if (this.closed) return;
    t.stopHealthLoop();
    t.exitWatch?.cancel();
    t.clearProcess();
    const what = describeExit(info);
    const failed = !info.known || info.signal !== null || info.code !== 0;
    // The restart policy is read now, not when the process started: a reloaded policy applies at once.
    const policy = (this.config.services[t.service] ?? service).restart;
    const restart = policy === 'always' || (policy === 'on-failure' && failed);
    t.log.warn('process exited', { exit: what, policy, restart });
    this.update(t, { pid: null, pidStartTime: null, lastExit: what, health: 'unknown' });
    if (restart) {
      this.scheduleRestart(t, service, what);
    } else {
      this.update(t, {
        observed: failed ? 'failed' : 'stopped',
        desired: 'stopped',
        lastError: failed ? `${what} (restart = "${policy}")` : null,
      });
    }
  }

  private scheduleRestart(t: TrackedInstance, service: ServiceConfig, why: string): void {
    if (this.closed) return;
    // Spawn errors carry the process's last output on further lines; the reason is the first.
    const reason = why.split('\n')[0] || why;
    this.cancelRestart(t);
    const s = this.config.settings;
    const now = this.now();
    const recent = this.store.restartsSince(t.service, t.id, now - s.restart_window * 1000);
    if (recent >= s.max_restarts) {
      const message = `${recent} restarts within ${s.restart_window} s (max_restarts = ${s.max_restarts}); last: ${reason}`;
      t.log.error('instance failed: giving up restarting', { reason: message });
      this.update(t, { observed: 'failed', health: 'failed', lastError: message, pid: null, pidStartTime: null });
      return;
    }
    const wait = backoffDelay(recent, s.backoff_base_ms, s.backoff_max_ms);
    this.store.recordRestart(t.service, t.id, reason, now);
    this.emit('restart', { service: t.service, id: t.id }, reason);
    const record = this.mustGet(t);
    this.update(t, { observed: 'backoff', restartCount: record.restartCount + 1, lastError: reason });
    t.log.info('restart scheduled', { inMs: wait, attempt: recent + 1, reason });
    t.restartTimer = setTimeout(() => {
      t.restartTimer = undefined;
      if (this.closed) return;
      this.startShared(t, service, `restart after: ${reason}`).catch((err: Error) => {
        if (this.closed || !this.store.get(t.service, t.id)) return;
        this.scheduleRestart(t, service, err.message);
      });
    }, wait);
  }

  private cancelRestart(t: TrackedInstance): void {
    if (t.restartTimer) clearTimeout(t.restartTimer);
    t.restartTimer = undefined;
  }

  private scheduleHealthCheck(t: TrackedInstance, service: ServiceConfig, inMs: number): void {
    t.stopHealthLoop();
    t.healthTimer = setTimeout(() => void this.checkHealth(t, service), inMs);
    t.healthTimer.unref();
  }

  private async checkHealth(t: TrackedInstance, service: ServiceConfig): Promise<void> {
    t.healthTimer = undefined;
    if (this.closed || t.pid === null || t.stopping) return;
    const record = this.store.get(t.service, t.id);
    if (!record) return;
    // A fixed 5 s budget, not the interval: a short interval must not turn a briefly slow app
    // (a loaded machine) into three failures and a restart.
    const result = await probe(record.port, service.health, 5000);
    if (this.closed || t.pid === null || t.stopping) return;
    this.emit('healthCheck', { service: t.service, id: t.id }, result.ok);
    const interval = this.config.settings.health_check_interval * 1000;
    if (result.ok) {
      if (record.health !== 'healthy' || record.observed !== 'running') {
        this.update(t, { health: 'healthy', healthFailures: 0, observed: 'running' });
      }
      this.scheduleHealthCheck(t, service, interval);
      return;
    }
    const failures = record.healthFailures + 1;
    if (failures < UNHEALTHY_AFTER) {
      t.log.warn('health check failed', { failures, detail: result.detail });
      this.update(t, { health: 'degraded', healthFailures: failures, lastError: result.detail });
      this.scheduleHealthCheck(t, service, interval);
      return;
    }
    t.log.error('instance unhealthy', { failures, detail: result.detail });
    this.update(t, { health: 'unhealthy', healthFailures: failures, lastError: `unhealthy: ${result.detail}` });
    if ((this.config.services[t.service] ?? service).restart === 'never') {
      this.scheduleHealthCheck(t, service, interval);
      return;
    }
    await this.serialize(t, () => this.stopProcess(t, service, 'backoff'));
    this.scheduleRestart(t, service, `unhealthy: ${result.detail}`);
  }

  /** Stops the process (if any) and records `observed`; never touches the record otherwise. */
  private async stopProcess(t: TrackedInstance, service: ServiceConfig | undefined, observed: 'stopped' | 'asleep' | 'backoff'): Promise<void> {
    t.stopHealthLoop();
    const pid = t.pid;
    if (pid !== null && groupAlive(pid)) {
      t.stopping = true;
      this.update(t, { observed: 'stopping' });
      try {
        const record = this.store.get(t.service, t.id);
        if (record && this.opts.beforeStop) await this.opts.beforeStop(record).catch(() => undefined);
        const timeout = this.config.settings.stop_timeout * 1000;
        const { killed } = await stopGroup(pid, timeout);
        t.log.info('process stopped', { pid, killed, ...(killed ? { note: `did not exit within stop_timeout (${timeout / 1000} s) of SIGTERM` } : {}) });
      } finally {
        t.stopping = false;
      }
    }
    t.exitWatch?.cancel();
    t.clearProcess();
    void service;
    this.update(t, { observed, pid: null, pidStartTime: null, health: observed === 'backoff' ? 'unhealthy' : 'unknown', healthFailures: 0 });
  }

  private removeInstanceDir(key: InstanceKey): void {
    const dir = instancePaths(this.config.settings.data_dir, key.service, key.id).instanceDir;
    // The id and service are validated DNS labels, but deleting is the one place to be paranoid.
    const expectedParent = path.join(this.config.settings.data_dir, key.service);
    if (path.dirname(dir) !== expectedParent || path.basename(dir) !== key.id) {
      throw new Error(`refusing to delete ${dir}: not an instance directory under ${this.config.settings.data_dir}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    this.log.info('instance data deleted (storage_persist = false)', { instance: formatKey(key), dir });
  }

  private async sleepIdle(): Promise<void> {
    if (this.closed) return;
    const now = this.now();
    // Only instances with a process can be idle: sleeping ones are not even read.
    for (const t of [...this.tracked.values()]) {
      if (t.pid === null) continue;
      const record = this.store.get(t.service, t.id);
      if (!record) continue;
      const service = this.config.services[record.service];
      if (!service || service.idle_timeout <= 0 || record.observed !== 'running' || record.desired !== 'running') continue;
      const last = Math.max(record.lastActivityAt ?? 0, record.startedAt ?? 0);
      if (now - last < service.idle_timeout * 1000) continue;
      if (this.opts.isBusy && (await this.opts.isBusy(record))) continue;
      // Detached while asking (controller closing): the store may be closed already.
      if (this.closed) return;
      // isBusy may have just read fresh activity: judge again on the stored record.
      const fresh = this.store.get(record.service, record.id);
      if (!fresh || now - Math.max(fresh.lastActivityAt ?? 0, fresh.startedAt ?? 0) < service.idle_timeout * 1000) continue;
      this.sleep(record).catch((err: Error) => this.log.error('could not put instance to sleep', { instance: formatKey(record), error: err.message }));
    }
  }
}
