// Derives Caddy's view from tenement's state and keeps it current: supervisor changes update the
// gate files at once and schedule a (coalesced) route push; the route itself only changes when the
// set of instances, their ports or weights, or the config change.
import type { CaddyFeatures } from '../../caddy/features.js';
import { buildTenementRoute, knownHosts, routeVersion, serviceGates, type CaddyRoute, type RoutingState } from '../../caddy/routes.js';
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { RouteInput } from '../store/instance-store.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../util/wait.js';
import type { CaddyTarget } from './caddy-target.js';
import { Gates, isServing } from './gates.js';
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

const routeInput = (r: RouteInput): RouteInput => ({ service: r.service, id: r.id, port: r.port, weight: r.weight });

export class Router {
  readonly sync: RouteSync;
  /** Instances kept out of Caddy for now (a deploy in progress becomes visible in one change). */
  private readonly hidden = new Set<string>();
  /** The instances (with their ports) each tree was built from. */
  private readonly builtFrom = new WeakMap<CaddyRoute, RouteInput[]>();
  /** The instances of the routes Caddy is known to hold; unknown until the first push or adoption. */
  private routed: { inputs: RouteInput[]; ports?: Map<string, number> } | undefined;
  /** Serving instances whose gate stays closed until Caddy routes their current port. */
  private readonly awaitingRoute = new Set<string>();
  /** Removed instances whose gate stays closed until Caddy's tree no longer routes to them. */
  private readonly leaving = new Set<string>();
  /**
   * What routes are built from (service, id, port, weight) of every instance, kept from the
   * supervisor's changes once started: reading it from SQLite cost every push ~1.5 ms at 1,000.
   */
  private readonly routeInputs = new Map<string, RouteInput>();
  private started = false;
  /** The last tree built: the next build reuses its host lookup when no instance came, went or moved. */
  private lastBuilt: CaddyRoute | undefined;
  private readonly onChange = (record: InstanceRecord | { service: string; id: string; removed: true }) => {
    const key = formatKey(record);
    if ('removed' in record) {
      this.awaitingRoute.delete(key);
      this.routeInputs.delete(key);
      // Its gate stays closed while the tree in Caddy still routes to it (a service route's member
      // would otherwise get requests at a port nobody listens on until the push lands).
      if (this.routed && this.routedPort(key) !== undefined) {
        this.leaving.add(key);
        this.opts.gates.close(record.service, record.id);
      } else this.opts.gates.open(record.service, record.id);
      this.sync.request();
      return;
    }
    this.leaving.delete(key);
    this.applyGate(record);
    // A wake storm is hundreds of state changes; rebuilding a thousand-instance tree for each
    // would only find it unchanged.
    const known = this.routeInputs.get(key);
    if (known?.port === record.port && known.weight === record.weight) return;
    this.routeInputs.set(key, routeInput(record));
    this.sync.request();
  };

  constructor(private readonly opts: RouterOptions) {
    this.sync = new RouteSync({
      target: opts.target,
      build: () => {
        const state = this.state();
        const route = buildTenementRoute(state, this.lastBuilt);
        this.lastBuilt = route;
        this.builtFrom.set(route, state.instances);
        // Before the push: the tree's service gates must be right once Caddy has it.
        this.opts.gates.track(serviceGates(route));
        return route;
      },
      version: routeVersion,
      onApplied: (route) => this.applied(route),
      log: opts.log,
      onPush: opts.onPush,
      verifyMs: opts.verifyMs,
    });
  }

  /**
   * Opens an instance's gate only once Caddy routes its host to the port it serves on: an instance
   * that moved port (its old one was taken while it slept) would otherwise get requests sent to
   * whatever now listens on the old port until the new route is pushed. Meanwhile the controller
   * forwards its requests.
   */
  private applyGate(record: InstanceRecord): void {
    const key = formatKey(record);
    if (isServing(record) && this.routed && this.routedPort(key) !== record.port) {
      this.awaitingRoute.add(key);
      this.opts.gates.close(record.service, record.id);
      return;
    }
    this.awaitingRoute.delete(key);
    this.opts.gates.apply(record);
  }

  /** The port Caddy routes an instance's host to (the map is made on first use, not on every push). */
  private routedPort(key: string): number | undefined {
    const routed = this.routed!;
    routed.ports ??= new Map(routed.inputs.map((i) => [formatKey(i), i.port]));
    return routed.ports.get(key);
  }

  private applied(route: CaddyRoute): void {
    // Service gates are kept for the tree in Caddy and the one built last (perhaps being pushed).
    const keep = new Set(serviceGates(route).keys());
    if (this.lastBuilt && this.lastBuilt !== route) for (const name of serviceGates(this.lastBuilt).keys()) keep.add(name);
    this.opts.gates.retain(keep);
    const inputs = this.builtFrom.get(route);
    if (!inputs) return;
    if (this.routed?.inputs !== inputs) this.routed = { inputs };
    for (const key of [...this.leaving]) {
      if (this.routedPort(key) !== undefined) continue;
      this.leaving.delete(key);
      const [service, id] = key.split(':') as [string, string];
      this.opts.gates.open(service, id);
    }
    for (const key of [...this.awaitingRoute]) {
      const [service, id] = key.split(':') as [string, string];
      const record = this.opts.supervisor.get({ service, id });
      if (record) this.applyGate(record);
      else this.awaitingRoute.delete(key);
    }
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
      instances: (this.started ? [...this.routeInputs.values()] : this.opts.supervisor.routeInputs()).filter(
        (r) => config.services[r.service] && (this.hidden.size === 0 || !this.hidden.has(formatKey(r))),
      ),
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
    const records = this.opts.supervisor.list();
    this.opts.gates.reconcile(records);
    for (const r of records) this.routeInputs.set(formatKey(r), routeInput(r));
    this.opts.supervisor.on('change', this.onChange);
    this.started = true;
    this.sync.start();
  }

  stop(): void {
    this.opts.supervisor.off('change', this.onChange);
    this.started = false;
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
    await waitFor(async () => !(await isBusy(record)), { timeoutMs: maxMs, intervalMs: 10, maxIntervalMs: 100, what: `${formatKey(record)} to drain` }).catch(() =>
      this.opts.log.warn('stopping with requests still in flight', { instance: formatKey(record), waitedMs: maxMs }),
    );
  }
}
