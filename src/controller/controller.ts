// Wires the parts of a running controller together:
//   config file -> validated config -> store -> supervisor -> router -> Caddy
//   process events -> store -> gates + routes
// It owns the data-dir lock for its whole life and releases it last.
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { CaddyAdminClient } from '../../caddy/admin-client.js';
import { accessLogFiles } from '../../caddy/external.js';
import { BASELINE, detectFeatures, type CaddyFeatures } from '../../caddy/features.js';
import { ManagedCaddy } from '../../caddy/managed-caddy.js';
import { buildTenementRoute, type CaddyJson } from '../../caddy/routes.js';
import { createApi } from '../api/app.js';
import { formatIssue } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { Activity } from '../routing/activity.js';
import { ExternalTarget, ManagedTarget, type CaddyTarget } from '../routing/caddy-target.js';
import { Gates, gateDir } from '../routing/gates.js';
import { Router } from '../routing/router.js';
import { TlsAsk } from '../routing/tls-ask.js';
import { FrontProxyPath } from '../routing/front-proxy.js';
import { tenantOfHost } from '../routing/hosts.js';
import { WakeEndpoint, isWakeRequest } from '../routing/wake-endpoint.js';
import { openDatabase } from '../store/database.js';
import { acquireDataDirLock, type DataDirLock } from '../store/data-dir-lock.js';
import { InstanceStore } from '../store/instance-store.js';
import { LogStore } from '../store/log-store.js';
import { TokenStore } from '../store/token-store.js';
import { AuditStore } from '../store/audit-store.js';
import { LogCapture } from '../logs/log-capture.js';
import { LogFeed } from '../logs/log-feed.js';
import { LogRetention } from '../logs/retention.js';
import { Metrics } from '../metrics/metrics.js';
import { caddyProcessHost } from '../routing/caddy-process-host.js';
import { Launcher, LauncherSpawnError } from '../supervisor/launcher/launcher.js';
import { runHere } from '../util/command-runner.js';
import { RuntimeRegistry } from '../supervisor/runtime/registry.js';
import { boundedRequestLabels, type KnownNames } from '../metrics/request-labels.js';
import { Supervisor } from '../supervisor/supervisor.js';
import type { InstanceRecord } from '../store/types.js';
import { diskHealth, diskSpace } from '../util/disk.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../version.js';
import { ControllerControlPlane } from './control-plane.js';
import { ConfigReloader } from './config-reload.js';
import { healthParts } from './health-parts.js';
import { HttpFront, loopbackFor } from './http-front.js';
import { RollingRestarts } from './rolling-restart.js';
import type { InheritedListener } from './inherited-listener.js';
import { loadWakeKey } from './wake-key.js';
import { startLegacyInstances, stopLegacyLeftovers } from './legacy-instances.js';
import { checkDnsProvider, managedTls, resolveTls, tlsStatus, type TlsOverrides } from './tls-options.js';
import { cgroupJoinWaits } from '../isolation/cgroup.js';
import { tightenDataDir } from '../isolation/file-modes.js';
import { TenantIsolation } from '../isolation/tenant-isolation.js';
import { StorageMeter } from '../storage/storage-meter.js';
import { IdentityStore } from '../store/identity-store.js';

export interface CaddyOptions {
  /** 'managed': tenement runs Caddy; an admin address: a Caddy the user runs; 'none': no Caddy (tests of the supervisor alone). */
  mode: 'managed' | 'external' | 'none';
  /** External: admin address (http://127.0.0.1:2019 or unix//path). */
  admin?: string | undefined;
  /** Managed: the caddy binary. */
  bin?: string | undefined;
  /** Managed: public HTTP listener. */
  httpHost?: string | undefined;
  httpPort?: number | undefined;
  /** External: access log file to read (default: found in Caddy's logging config). */
  accessLog?: string | undefined;
}

export interface ControllerOptions {
  configFile: string;
  /** Overrides settings.data_dir. */
  dataDir?: string | undefined;
  host: string;
  port: number;
  domain: string;
  caddy: CaddyOptions;
  log: Logger;
  /** A listening socket to use instead of binding host:port (systemd socket activation, handover). */
  listener?: InheritedListener | undefined;
  /**
   * Descriptors no process the controller starts (tenants, Caddy) may inherit: its inherited
   * listening socket(s). A child holding the controller's socket would keep it open after the
   * controller died, and connections would queue unanswered.
   */
  noInherit?: readonly number[];
  /** Awaited before the data-dir lock is taken (a handover waits here for the old controller to let go). */
  beforeLock?: ((dataDir: string) => Promise<void>) | undefined;
  /** How long close() lets in-flight requests finish before cutting them. */
  drainMs?: number;
  /** Accept an empty or missing database in a data dir that was used before (`--allow-empty-db`). */
  allowEmptyDb?: boolean;
  /** `ten serve --tls/--email/--staging`, over [settings.tls]. */
  tls?: TlsOverrides;
}

/** Loads the config and reports its warnings; every start says what is accepted but not enforced. */
export function loadConfigWithWarnings(file: string, log: Logger, dataDir?: string): Config {
  const { config, warnings } = loadConfig(file);
  for (const w of warnings) log.warn(formatIssue(w), { file: w.file, line: w.line, key: w.key });
  if (dataDir) config.settings.data_dir = dataDir;
  return config;
}

export { serverFd } from './http-front.js';

export class Controller {
  private readonly closers: Array<() => void | Promise<void>> = [];
  private config!: Config;
  supervisor!: Supervisor;
  control!: ControllerControlPlane;
  /** Storage of every instance, measured in the background. */
  storage!: StorageMeter;
  router: Router | undefined;
  managedCaddy: ManagedCaddy | undefined;
  private caddyWatch: NodeJS.Timeout | undefined;
  server: http.Server | undefined;
  reloader: ConfigReloader | undefined;

  private constructor(private readonly opts: ControllerOptions) {}

  get currentConfig(): Config {
    return this.config;
  }

  static async start(opts: ControllerOptions): Promise<Controller> {
    const c = new Controller(opts);
    try {
      await c.boot();
      return c;
    } catch (err) {
      await c.close().catch(() => undefined);
      throw err;
    }
  }

  private async boot(): Promise<void> {
    const { opts } = this;
    const log = opts.log;
    this.config = loadConfigWithWarnings(opts.configFile, log, opts.dataDir);
    const dataDir = this.config.settings.data_dir;
    await opts.beforeLock?.(dataDir);
    const lock: DataDirLock = acquireDataDirLock(dataDir, { version: VERSION });
    this.closers.push(() => void lock.release());

    const opened = openDatabase(dataDir, { appVersion: VERSION, allowEmpty: opts.allowEmptyDb === true });
    // In front of the lock's release: the lock is let go last, after the database is closed.
    this.closers.unshift(() => {
      opened.db.close();
    });
    if (opened.migratedFrom !== undefined) {
      log.info('database migrated', { from: opened.migratedFrom, backup: opened.backup ?? null, path: opened.path });
    }
    const store = new InstanceStore(opened.db);
    const logStore = new LogStore(opened.db);
    const startedAt = Date.now();
    const metrics = new Metrics();

    // Tenants are forked by a small helper process, not by this large one (see launcher.ts).
    const launcher = new Launcher({ noInherit: opts.noInherit ?? [], log });
    launcher.warm();
    this.closers.unshift(() => launcher.close());
    let wake: WakeEndpoint | undefined;
    const isolation = new TenantIsolation({
      // nft too; once the launcher is gone (shutting down) it runs here. Its scripts can be rerun.
      runCommand: (file, args, input, timeoutMs) =>
        launcher.run(file, args, input, timeoutMs).catch((err: unknown) => {
          if (err instanceof LauncherSpawnError) return runHere(file, args, input, timeoutMs);
          throw err;
        }),
      config: this.config,
      identities: new IdentityStore(opened.db),
      log,
      onOomKill: (ref) => metrics.observeOomKill({ service: ref.service, instance: ref.id }),
    });
    // Assigned right below: the supervisor asks it, the activity reads the supervisor.
    let activity!: Activity;
    this.supervisor = new Supervisor({
      config: this.config,
      store,
      log,
      runtimes: new RuntimeRegistry({ noInherit: opts.noInherit ?? [], isolation, launcher }),
      isolation,
      isBusy: async (r) => (wake?.busy(r) ?? false) || (await activity.isBusy(r)),
      beforeStop: async (r) => {
        if (this.router) {
          const busy = async (x: InstanceRecord) => (wake?.busy(x) ?? false) || (await activity.isBusy(x));
          await this.router.drain(r, busy, (this.config.services[r.service]?.request_timeout ?? 30) * 1000);
        }
      },
    });
    this.closers.unshift(() => this.supervisor.detach());
    activity = new Activity({ supervisor: this.supervisor, config: () => this.config, domain: opts.domain, log });
    this.closers.unshift(() => activity.stop());
    const requestMetrics = this.config.settings.request_metrics;
    this.supervisor.on('restart', (k) => metrics.observeRestart({ service: k.service, instance: k.id }));
    this.supervisor.on('healthCheck', (k, ok) => metrics.observeHealthCheck({ service: k.service, instance: k.id }, ok));
    this.supervisor.on('change', (r) => {
      if ('removed' in r) metrics.forgetInstance({ service: r.service, instance: r.id });
    });

    // Caddy: build the target (not yet contacted) and the router around it.
    // What Caddy dials to reach us; replaced by the real address once listening (an inherited
    // socket may be bound to another port than --port).
    let controllerDial = `${loopbackFor(opts.host)}:${opts.port}`;
    const wakeKey = loadWakeKey(dataDir);
    const gates = new Gates(gateDir(dataDir));
    let target: CaddyTarget | undefined;
    let features: CaddyFeatures = BASELINE;
    let accessLog: string | undefined;
    const tls = resolveTls(this.config.settings.tls, opts.tls ?? {}, opts.domain, opts.caddy.mode);
    if (opts.caddy.mode === 'managed') {
      const bin = opts.caddy.bin ?? 'caddy';
      if (tls?.dnsProvider) await checkDnsProvider(bin, tls.dnsProvider);
      features = await detectFeatures(bin);
      this.managedCaddy = new ManagedCaddy(bin, dataDir, log, caddyProcessHost({ noInherit: opts.noInherit ?? [] }));
      if (requestMetrics) accessLog = this.managedCaddy.paths.accessLog;
      const httpHost = opts.caddy.httpHost ?? '127.0.0.1';
      target = new ManagedTarget(this.managedCaddy, {
        adminListen: this.managedCaddy.adminAddress,
        // With HTTPS, the HTTP listener is [settings.tls] http_port and only redirects.
        httpListen: [`${httpHost}:${tls ? tls.httpPort : (opts.caddy.httpPort ?? 8000)}`],
        accessLogFile: accessLog,
        gracePeriodSec: 10,
        ...(tls ? { tls: () => managedTls(tls, httpHost, `http://${controllerDial}/caddy/ask`) } : {}),
      });
      if (tls) log.info('HTTPS in the managed Caddy', { domain: tls.domain, https: tls.httpsPort, http: tls.httpPort, issuer: tls.issuer, staging: tls.staging });
    } else if (opts.caddy.mode === 'external') {
      // Caddy 2.6 cannot tell its version over the admin API: only a binary named with --caddy-bin
      // is asked; otherwise the 2.6 baseline is used, which every 2.x accepts.
      if (opts.caddy.bin) features = await detectFeatures(opts.caddy.bin);
      target = new ExternalTarget(new CaddyAdminClient(opts.caddy.admin!), opts.domain);
    }
    if (target) {
      this.router = new Router({
        supervisor: this.supervisor,
        config: () => this.config,
        domain: opts.domain,
        controllerDial: () => controllerDial,
        gates,
        target,
        features,
        wakeKey,
        log,
        onPush: (ok, ms) => metrics.observeCaddyPush(ok, ms),
      });
      this.closers.unshift(() => this.router?.stop());
    }

    const parts = () =>
      healthParts({
        db: opened.db,
        config: () => this.reloader?.status() ?? { ok: true, detail: this.config.file },
        routes: this.router && target ? { describe: () => target!.describe, stats: () => this.router!.sync.stats } : undefined,
        isolation: () => {
          const iso = isolation.report();
          return { ok: iso.missing.length === 0, detail: iso.missing.length ? `not given: ${iso.missing.join('; ')}` : `given: ${iso.given.join('; ')}` };
        },
        disk: () => diskHealth(dataDir, this.config.settings.disk_min_free_mb),
      });
    const audit = new AuditStore(opened.db);
    const reloader = new ConfigReloader({
      file: opts.configFile,
      dataDir: opts.dataDir,
      current: () => this.config,
      apply: (config) => {
        this.config = config;
      },
      supervisor: this.supervisor,
      router: this.router,
      audit,
      log,
    });
    this.reloader = reloader;
    this.closers.unshift(() => reloader.close());
    const rolls = new RollingRestarts({
      current: () => this.config,
      supervisor: this.supervisor,
      reload: (reason) => reloader.reload(reason),
      closed: () => reloader.closed,
      log,
    });
    const storage = new StorageMeter({ config: () => this.config, instances: () => this.supervisor.list(), log });
    this.storage = storage;
    this.closers.unshift(() => storage.stop());
    this.control = new ControllerControlPlane({
      roller: rolls,
      supervisor: this.supervisor,
      router: this.router,
      config: () => this.config,
      publicPort: opts.caddy.mode === 'managed' ? (opts.caddy.httpPort ?? 8000) : undefined,
      domain: opts.domain,
      startedAt,
      parts,
      log,
      storage,
      usage: isolation,
    });

    metrics.setInstanceSource(() => this.control.list());
    metrics.setDiskSource(() => diskSpace(dataDir));
    metrics.setStorageSource(() =>
      this.control.list().flatMap((r) => {
        const u = storage.usage(r.service, r.id);
        return u ? [{ service: r.service, instance: r.id, usedBytes: u.used_bytes, quotaBytes: u.quota_bytes }] : [];
      }),
    );
    const logFeed = new LogFeed();
    const capture = new LogCapture({
      dataDir,
      store: logStore,
      feed: logFeed,
      metrics,
      log,
      liveOnly: true,
      fileLimits: () => ({ maxBytes: this.config.settings.log_file_max_mb * 1024 * 1024, maxAgeMs: this.config.settings.log_file_max_age_days * 86_400_000 }),
    });
    // Only instances with a process are followed: sleeping ones cost nothing until they wake.
    const noteLive = (r: InstanceRecord | { service: string; id: string; removed: true }) =>
      capture.noteInstance(r.service, r.id, !('removed' in r) && !['asleep', 'stopped', 'failed'].includes(r.observed));
    this.supervisor.on('change', noteLive);
    const retention = new LogRetention({ store: logStore, settings: () => this.config.settings, log });
    this.closers.unshift(() => capture.stop());
    this.closers.unshift(() => retention.stop());

    // The listener first: Caddy's routes (adopted, or about to be pushed) point at it.
    const api = createApi({
      control: this.control,
      tokens: new TokenStore(opened.db),
      audit,
      logs: logStore,
      logFeed,
      metrics,
      log,
      security: () => ({
        trustedProxies: this.config.settings.trusted_proxies,
        metricsToken: this.config.settings.metrics_token,
        tenantSpawn: Object.values(this.config.services)
          .filter((s) => s.tenant_spawn)
          .map((s) => s.name),
      }),
      tlsStatus: () => tlsStatus(tls, opts.caddy.mode),
    });
    const honoListener = getRequestListener(api.fetch);
    wake = new WakeEndpoint({
      key: wakeKey,
      supervisor: this.supervisor,
      config: () => this.config,
      log,
      onWake: (r, ms) => metrics.observeWake({ service: r.service, instance: r.id }, ms),
      tenantOfHost: (host) => tenantOfHost(host, opts.domain, this.config.routing),
    });
    const ask = new TlsAsk(() => (this.router ? this.router.hosts() : new Set()));
    const frontProxy = new FrontProxyPath({
      domain: opts.domain,
      routing: () => this.config.routing,
      services: () => Object.keys(this.config.services),
      caddyListen: opts.caddy.mode === 'managed' ? `${opts.caddy.httpHost ?? '127.0.0.1'}:${opts.caddy.httpPort ?? 8000}` : undefined,
      log,
    });
    const front = await HttpFront.open({
      host: opts.host,
      port: opts.port,
      listener: opts.listener,
      drainMs: opts.drainMs ?? 10_000,
      handlers: {
        wake: { isWakeRequest, handle: (req, res) => wake!.handle(req, res), handleUpgrade: (req, socket, head) => wake!.handleUpgrade(req, socket, head) },
        ask: { matches: (req) => TlsAsk.matches(req), handle: (req, res) => ask.handle(req, res) },
        tenant: {
          target: (req) => frontProxy.target(req),
          handle: (req, res, t) => wake!.handleHost(req, res, t.service, t.id),
          handleUpgrade: (req, socket, head, t) => wake!.handleHostUpgrade(req, socket, head, t.service, t.id),
        },
        api: honoListener,
      },
    });
    this.server = front.server;
    controllerDial = front.dialAddress(controllerDial);
    this.closers.unshift(() => front.close());
    // Tenants may not open the controller's listener nor an external Caddy's TCP admin endpoint
    // (the managed Caddy's admin socket is a file in the private _caddy folder).
    const boundPort = front.server.address();
    isolation.setProtectedPorts([
      ...(boundPort && typeof boundPort === 'object' ? [boundPort.port] : [opts.port]),
      ...(opts.caddy.mode === 'external' ? tcpPortOf(opts.caddy.admin ?? '') : []),
    ]);

    if (this.managedCaddy && target instanceof ManagedTarget) {
      const initial = target.config(buildTenementRoute(this.router!.state()));
      await this.managedCaddy.ensure(initial);
      this.watchManagedCaddy(target);
    }
    const knownNames: KnownNames = {
      service: (name) => Object.hasOwn(this.config.services, name),
      instance: (service, id) => this.supervisor.get({ service, id }) !== undefined,
    };
    tightenDataDir(dataDir);
    const followAccessLog = (file: string) => {
      if (activity.followsAccessLog) return;
      const offsetKey = `caddy-access:${file}`;
      activity.followAccessLog({
        file,
        from: logStore.offset(offsetKey),
        onOffset: (o) => logStore.setOffset(offsetKey, o),
        onRequest: (o) => metrics.observeRequest(boundedRequestLabels(o, knownNames)),
      });
      metrics.history.countRequests();
      log.info('reading request metrics from the Caddy access log', { file });
    };
    // An access log named on the command line is an opt-in of its own.
    if (accessLog === undefined && opts.caddy.accessLog) accessLog = opts.caddy.accessLog;
    if (accessLog) followAccessLog(accessLog);
    this.router?.start();
    if (!accessLog && target && requestMetrics && opts.caddy.mode === 'external') {
      // An external Caddy may not be up yet: look for its access log whenever routes reach it.
      let warned = false;
      const lookForLog = async () => {
        if (activity.followsAccessLog) return;
        const found = await this.findExternalAccessLog(target!);
        if (found) followAccessLog(found);
        else if (!warned && this.router?.sync.stats.inSync) {
          warned = true;
          log.warn("request_metrics is on but Caddy's config has no access log: add a `log` to the tenant site, or pass --caddy-access-log");
        }
      };
      this.router?.sync.onSynced(() => void lookForLog());
    }
    // Lines written while no controller ran are indexed in the background (issue 11 #8: a 100 MB
    // backlog kept the controller from being ready, and from acting on SIGTERM, for over a minute).
    // Each chunk is a short step with I/O between, so requests and signals are served meanwhile;
    // close() stops it after the chunk in progress, and the next start resumes from the offsets.
    const backlogFrom = Date.now();
    capture.start().then(
      () => log.info('captured output indexed (backlog done, following the files)', { ms: Date.now() - backlogFrom }),
      (err: Error) => log.error('indexing captured output failed', { error: err.message }),
    );
    retention.start();
    const legacy = { db: opened.db, config: this.config, supervisor: this.supervisor, log };
    await stopLegacyLeftovers(legacy);
    await this.supervisor.start();
    startLegacyInstances(legacy);
    storage.start();
    for (const r of this.supervisor.list()) noteLive(r);
    // Declared instances are up: have their routes in Caddy before saying ready (returns after one
    // attempt if Caddy is unreachable; the sync keeps retrying).
    await this.router?.pushNow();
    await reloader.watch();
    const iso = isolation.host;
    if (iso.root && iso.cgroup && cgroupJoinWaits()) {
      log.info('each tenant start waits ~5-15 ms for the kernel to move it into its cgroup; a cgroup mount with favordynmods removes the wait', {
        see: 'docs/performance.md#host-tuning',
      });
    }
    log.info('controller ready', {
      version: VERSION,
      listen: controllerDial,
      domain: opts.domain,
      dataDir,
      config: this.config.file,
      caddy: target?.describe ?? 'none',
      caddyVersion: features.version,
    });
  }

  private async findExternalAccessLog(target: CaddyTarget): Promise<string | undefined> {
    try {
      const config = await target.admin.get<CaddyJson>('/config/');
      return accessLogFiles(config)[0];
    } catch {
      return undefined;
    }
  }

  /** A managed Caddy that dies while the controller runs is started again with the current routes. */
  private watchManagedCaddy(target: ManagedTarget): void {
    let restarting = false;
    this.caddyWatch = setInterval(() => {
      if (restarting || !this.managedCaddy || this.managedCaddy.runningPid() !== null) return;
      restarting = true;
      this.opts.log.warn('managed Caddy is gone; starting it again');
      this.managedCaddy
        .ensure(target.config(buildTenementRoute(this.router!.state())))
        .catch((err: Error) => this.opts.log.error('could not restart Caddy', { error: err.message }))
        .finally(() => {
          restarting = false;
        });
    }, 1000);
    this.caddyWatch.unref();
    this.closers.unshift(() => clearInterval(this.caddyWatch));
  }

  /** Stops the controller and leaves every tenant (and a managed Caddy) running, for the next controller to adopt. */
  async close(): Promise<void> {
    for (const close of this.closers.splice(0)) {
      try {
        await close();
      } catch (err) {
        this.opts.log.warn('error while stopping', { error: (err as Error).message });
      }
    }
    this.opts.log.info('controller stopped; tenants left running');
  }
}

/** The TCP port of an admin address such as `localhost:2019` or `http://127.0.0.1:2019` (none for unix sockets). */
function tcpPortOf(address: string): number[] {
  if (address.startsWith('unix/') || address.startsWith('unix:')) return [];
  const m = /:(\d+)\/?$/.exec(address);
  return m ? [Number(m[1])] : [];
}
