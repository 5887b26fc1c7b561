// Keeps Caddy's copy of tenement's route equal to the one derived from state. Changes are
// coalesced (a burst of spawns becomes a handful of reloads), pushed one at a time, retried with
// backoff while Caddy is unreachable, and verified: a Caddy that was restarted or reloaded from its
// Caddyfile (which wipes pushed routes) gets them back within a verify interval.
import { isDeepStrictEqual } from 'node:util';
import type { CaddyRoute } from '../../caddy/routes.js';
import type { Logger } from '../util/logger.js';
import type { CaddyTarget } from './caddy-target.js';

export interface RouteSyncOptions {
  target: CaddyTarget;
  /** Builds the desired route from current state. */
  build: () => CaddyRoute;
  log: Logger;
  /** Coalescing window for change bursts. */
  debounceMs?: number;
  /** How often Caddy's copy is checked for drift. */
  verifyMs?: number | undefined;
  onPush?: ((ok: boolean, ms: number) => void) | undefined;
  /** The version a route carries (see caddy/routes.ts); verification then reads only that. */
  version?: ((route: CaddyRoute) => string | undefined) | undefined;
  /** Called whenever Caddy is known to hold `route` (pushed, adopted, or found unchanged). */
  onApplied?: ((route: CaddyRoute) => void) | undefined;
}

export interface RouteSyncStats {
  /** Config changes tenement made in Caddy (each one is a full Caddy reload). */
  pushes: number;
  failures: number;
  /** Times Caddy's copy was found missing or different and restored. */
  repairs: number;
  lastError: string | null;
  /** True once Caddy holds the current routes. */
  inSync: boolean;
}

export class RouteSync {
  readonly stats: RouteSyncStats = { pushes: 0, failures: 0, repairs: 0, lastError: null, inSync: false };
  private pushed: CaddyRoute | undefined;
  private timer: NodeJS.Timeout | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retryMs = 0;
  private stopped = false;
  private waiters: Array<() => void> = [];
  /** Bumped by every push, so a read-back that raced a push is not mistaken for drift. */
  private generation = 0;
  private syncedListeners: Array<() => void> = [];

  constructor(private readonly opts: RouteSyncOptions) {}

  start(): void {
    this.request(0);
    const every = this.opts.verifyMs ?? 1000;
    this.verifyTimer = setInterval(() => void this.verify(), every);
    this.verifyTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Schedules a push of the current state (coalesced with other requests in the window). */
  request(delayMs = this.opts.debounceMs ?? 25): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
  }

  /** Pushes now (if state differs from Caddy's copy) and resolves once Caddy has it. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running) {
      this.again = true;
      await this.running;
    }
    await this.run();
  }

  /** Resolves when the current routes are in Caddy (or the sync is stopped). */
  whenInSync(): Promise<void> {
    if (this.stats.inSync && !this.timer && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private run(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      do {
        this.again = false;
        await this.pushIfChanged();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pushIfChanged(): Promise<void> {
    if (this.stopped) return;
    const route = this.opts.build();
    if (this.pushed && this.same(route, this.pushed)) {
      this.markInSync(this.pushed);
      return;
    }
    if (!this.pushed) {
      // After a controller restart Caddy usually has exactly these routes already: adopting them
      // instead of re-pushing spares every tenant a reload.
      const current = await this.opts.target.read().catch(() => undefined);
      if (current !== undefined && isDeepStrictEqual(current, route)) {
        this.pushed = route;
        this.markInSync(route);
        return;
      }
    }
    const t0 = performance.now();
    try {
      // What Caddy holds, when known: the target may then send only the part that changed.
      await this.opts.target.write(route, this.pushed);
      const ms = performance.now() - t0;
      this.pushed = route;
      this.generation++;
      this.stats.pushes++;
      this.stats.lastError = null;
      this.retryMs = 0;
      this.opts.onPush?.(true, ms);
      this.opts.log.debug('routes pushed to Caddy', { ms: Math.round(ms), target: this.opts.target.describe });
      this.markInSync(route);
    } catch (err) {
      this.stats.failures++;
      this.stats.inSync = false;
      const message = (err as Error).message;
      if (this.stats.lastError !== message) this.opts.log.warn('could not push routes to Caddy; retrying', { error: message });
      this.stats.lastError = message;
      this.opts.onPush?.(false, performance.now() - t0);
      this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : 100, 2000);
      this.pushed = undefined;
      // A timer, not `again`: retrying inside the running loop would spin while Caddy is down.
      if (!this.timer && !this.stopped) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.run();
        }, this.retryMs);
        this.timer.unref();
      }
    }
  }

  /** Equal routes; by their versions when they carry one (a deep comparison costs tens of ms at a thousand instances). */
  private same(a: CaddyRoute, b: CaddyRoute): boolean {
    const va = this.opts.version?.(a);
    return va !== undefined ? va === this.opts.version?.(b) : isDeepStrictEqual(a, b);
  }

  /** Calls `fn` every time Caddy is found holding the current routes after a push or check. */
  onSynced(fn: () => void): void {
    this.syncedListeners.push(fn);
    if (this.stats.inSync) fn();
  }

  private markInSync(route: CaddyRoute): void {
    this.opts.onApplied?.(route);
    const was = this.stats.inSync;
    this.stats.inSync = true;
    if (!was) for (const fn of this.syncedListeners) fn();
    for (const w of this.waiters.splice(0)) w();
  }

  private async verify(): Promise<void> {
    if (this.stopped || this.running || this.timer || !this.pushed) return;
    const generation = this.generation;
    const expected = this.opts.version?.(this.pushed);
    const readVersion = this.opts.target.readVersion?.bind(this.opts.target);
    let current: CaddyRoute | undefined;
    let same: boolean;
    try {
      if (expected !== undefined && readVersion) {
        same = (await readVersion()) === expected;
      } else {
        current = await this.opts.target.read();
        same = current !== undefined && isDeepStrictEqual(current, this.pushed);
      }
    } catch (err) {
      // Unreachable: Caddy is restarting. The next verify tries again.
      this.stats.inSync = false;
      this.stats.lastError = (err as Error).message;
      return;
    }
    if (this.running || this.timer || !this.pushed || generation !== this.generation) return;
    if (same) {
      if (!this.stats.inSync) this.markInSync(this.pushed);
      return;
    }
    this.opts.log.warn("tenement's routes are missing from Caddy or differ (restarted or reloaded?); restoring them", {
      target: this.opts.target.describe,
    });
    this.stats.repairs++;
    this.pushed = undefined;
    await this.run();
  }
}
