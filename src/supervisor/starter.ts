// Starting an instance's process: on its stored port (moved only if another program took it),
// through the runtime its service's `isolation` names, then waiting until it is healthy. A start
// that fails leaves no process behind and the reason (with the last output) in `last_error`.
import fs from 'node:fs';
import { serviceHash } from '../config/service-hash.js';
import type { Config, ServiceConfig } from '../config/types.js';
import { isSameProcess } from '../util/proc.js';
import { SpawnError } from './errors.js';
import { describeExit, watchExit, type ExitInfo } from './exit-watch.js';
import type { InstanceRegistry } from './instance-registry.js';
import { instancePaths } from './layout.js';
import { tailFile } from './log-tail.js';
import { isPortFree } from './port-allocator.js';
import { waitReady } from './readiness.js';
import type { RuntimeRegistry } from './runtime/registry.js';
import type { LaunchedProcess } from './runtime/runtime.js';
import { buildLaunchSpec } from './spawn-spec.js';
import type { TrackedInstance } from './tracked-instance.js';
import type { TenantIsolation } from '../isolation/tenant-isolation.js';

export interface StarterDeps {
  instances: InstanceRegistry;
  runtimes: RuntimeRegistry;
  config: () => Config;
  now: () => number;
  /** A start supersedes any restart scheduled for the instance. */
  cancelRestart: (t: TrackedInstance) => void;
  /** The process is healthy (or was adopted): watch it from now on. */
  onStarted: (t: TrackedInstance, service: ServiceConfig) => void;
  /** Names an OOM kill and releases the cgroup and network rule of a failed start. */
  isolation?: TenantIsolation;
}

export class Starter {
  constructor(private readonly deps: StarterDeps) {}

  /** Starts the instance; concurrent callers (wakes, spawns) share one start. */
  start(t: TrackedInstance, service: ServiceConfig, reason: string): Promise<void> {
    if (!t.starting) {
      t.starting = t
        .serialize(() => this.startNow(t, service, reason))
        .finally(() => {
          t.starting = undefined;
        });
    }
    return t.starting;
  }

  private async startNow(t: TrackedInstance, startWith: ServiceConfig, reason: string): Promise<void> {
    const { instances } = this.deps;
    const config = this.deps.config();
    // Every start uses the service's current definition (a config reload may have changed it since
    // the caller looked it up, e.g. a restart scheduled before the reload).
    const service = instances.current(t, startWith);
    let record = instances.mustGet(t);
    if (record.observed === 'running' && t.pid && isSameProcess(t.pid, t.startTime)) return;
    if (record.observed === 'starting' && t.pid && isSameProcess(t.pid, t.startTime)) {
      // Adopted while an earlier controller was still starting it (a handover during a wake): wait
      // for that process instead of launching a second one on the same port.
      const pid = t.pid;
      await waitReady({ port: record.port, health: service.health, startupTimeoutS: service.startup_timeout, exited: () => !isSameProcess(pid, t.startTime) }, this.deps.now);
      instances.update(t, { observed: 'running', health: 'healthy', healthFailures: 0, lastActivityAt: this.deps.now() });
      return;
    }
    this.deps.cancelRestart(t);
    t.stopHealthLoop();
    // Something outside tenement took the port while the instance was down; moving is better than
    // failing, and the route follows the stored port.
    if (!(await isPortFree(record.port))) record = await instances.movePort(t, record.port);
    fs.mkdirSync(instancePaths(config.settings.data_dir, t.service, t.id).instanceDir, { recursive: true, mode: 0o700 });
    const spec = buildLaunchSpec(config, service, { service: t.service, id: t.id, port: record.port });
    const runtime = this.deps.runtimes.for(service.isolation);
    instances.update(t, { observed: 'starting', health: 'unknown', healthFailures: 0, lastError: null });
    let launched: LaunchedProcess;
    try {
      launched = await runtime.launch(spec);
    } catch (err) {
      await this.deps.isolation?.released(t).catch(() => undefined);
      // Isolation refusals already name the instance, what blocks and the fix.
      const message = /^\S+ cannot start: /.test((err as Error).message) ? (err as Error).message : `${t.name} could not be started: ${(err as Error).message}`;
      instances.update(t, { observed: 'stopped', lastError: message });
      throw new SpawnError(t.name, message);
    }
    t.pid = launched.pid;
    t.startTime = launched.startTime;
    t.child = launched.child;
    instances.update(t, { pid: launched.pid, pidStartTime: launched.startTime, startedAt: this.deps.now(), configHash: serviceHash(config, service) });
    t.log.info('process started', { pid: launched.pid, port: record.port, reason });

    let exited: ExitInfo | undefined;
    const earlyExit = watchExit(launched, (info) => {
      exited = info;
    });
    try {
      await waitReady({ port: record.port, health: service.health, startupTimeoutS: service.startup_timeout, exited: () => exited !== undefined }, this.deps.now);
    } catch (err) {
      earlyExit.cancel();
      if (!exited) await runtime.stop(launched.pid, config.settings.stop_timeout * 1000).catch(() => undefined);
      else runtime.kill(launched.pid);
      t.clearProcess();
      const tail = [...tailFile(spec.stderrLog, 10), ...tailFile(spec.stdoutLog, 5)].slice(-10);
      const oom = exited ? this.deps.isolation?.exitReason(t) : undefined;
      await this.deps.isolation?.released(t).catch(() => undefined);
      const why = exited ? `process ${oom ?? describeExit(exited)} before it became healthy` : (err as Error).message;
      const message = `${t.name} failed to start: ${why}`;
      instances.update(t, {
        observed: 'stopped',
        health: 'unknown',
        pid: null,
        pidStartTime: null,
        lastError: message,
        lastExit: exited ? (oom ?? describeExit(exited)) : 'killed: not healthy in time',
      });
      t.log.error('start failed', { reason: why });
      throw new SpawnError(t.name, message, tail);
    }
    earlyExit.cancel();
    instances.update(t, { observed: 'running', health: 'healthy', healthFailures: 0, lastActivityAt: this.deps.now() });
    this.deps.onStarted(t, service);
  }
}
