// Derives Caddy's view from tenement's state and keeps it current: supervisor changes update the
// gate files at once and schedule a (coalesced) route push; the route itself only changes when the
// set of instances, their ports or weights, or the config change.
import type { CaddyFeatures } from '../../caddy/features.js';
import { buildTenementRoute, knownHosts, type RoutingState } from '../../caddy/routes.js';
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../util/wait.js';
import type { CaddyTarget } from './caddy-target.js';
import { Gates } from './gates.js';
import { RouteSync } from './route-sync.js';

export interface RouterOptions {
  supervisor: Supervisor;
  config: () => Config;
  domain: string;
  /** host:port Caddy dials to reach the controller (known once it listens). */
  controllerDial: () => string;
  gates: Gates;
  target: CaddyTarget;
  features: CaddyFeatures;
  wakeKey: string;
  log: Logger;
  onPush?: (ok: boolean, ms: number) => void;
  verifyMs?: number;
}

export class Router {
  readonly sync: RouteSync;
  /** Instances kept out of Caddy for now (a deploy in progress becomes visible in one change). */
  private readonly hidden = new Set<string>();
  private readonly onChange = (record: InstanceRecord | { service: string; id: string; removed: true }) => {
    if ('removed' in record) this.opts.gates.open(record.service, record.id);
    else this.opts.gates.apply(record);
    this.sync.request();
  };

  constructor(private readonly opts: RouterOptions) {
    this.sync = new RouteSync({
      target: opts.target,
      build: () => buildTenementRoute(this.state()),
      log: opts.log,
      onPush: opts.onPush,
      verifyMs: opts.verifyMs,
    });
  }

  state(): RoutingState {
    const config = this.opts.config();
    return {
      domain: this.opts.domain,
      services: Object.values(config.services).map((s) => ({
        name: s.name,
        health: s.health,
        healthIntervalSec: config.settings.health_check_interval,
        requestTimeoutSec: s.request_timeout,
      })),
      instances: this.opts.supervisor
        .list()
        .filter((r) => !this.hidden.has(formatKey(r)) && config.services[r.service])
        .map((r) => ({ service: r.service, id: r.id, port: r.port, weight: r.weight })),
      routing: config.routing,
      controllerDial: this.opts.controllerDial(),
      gateDir: this.opts.gates.dir,
      wakeKey: this.opts.wakeKey,
      features: this.opts.features,
    };
  }

  hosts(): Set<string> {
    return knownHosts(this.state());
  }

  start(): void {
    this.opts.gates.reconcile(this.opts.supervisor.list());
    this.opts.supervisor.on('change', this.onChange);
    this.sync.start();
  }

  stop(): void {
    this.opts.supervisor.off('change', this.onChange);
    this.sync.stop();
  }

  hide(key: InstanceKey): void {
    this.hidden.add(formatKey(key));
  }

  unhide(key: InstanceKey): void {
    this.hidden.delete(formatKey(key));
    this.sync.request();
  }

  /** Re-derives routes now (e.g. after a config change) and waits until Caddy has them. */
  async pushNow(): Promise<void> {
    await this.sync.flush();
  }

  /**
   * Before an instance's process is stopped: its gate is already closed (state 'stopping'), so new
   * requests go to the controller; wait for those already sent to the process to finish.
   */
  async drain(record: InstanceRecord, isBusy: (r: InstanceRecord) => Promise<boolean>, maxMs: number): Promise<void> {
    // A request that passed the gate check a moment before the gate closed is not yet counted by
    // Caddy as in flight; give it time to reach the upstream.
    await delay(20);
    await waitFor(async () => !(await isBusy(record)), { timeoutMs: maxMs, intervalMs: 10, maxIntervalMs: 100, what: `${formatKey(record)} to drain` }).catch(
      () => this.opts.log.warn('stopping with requests still in flight', { instance: formatKey(record), waitedMs: maxMs }),
    );
  }
}
