// Everything tenement exposes to Prometheus, behind a small typed API: other modules call
// `observe*` methods and never touch prom-client, so names, labels and buckets are decided here
// once. Every per-instance series carries the same two labels, `service` and `instance` (the
// instance id), so queries can join them.
//
// Durations are in seconds (Prometheus convention; the original's `_ms` histogram is not kept).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InstanceRecord } from '../store/types.js';

export interface InstanceLabels {
  service: string;
  /** The instance id (the part after the colon). */
  instance: string;
}

export interface RequestObservation extends InstanceLabels {
  /** HTTP status Caddy answered with. */
  status: number;
  durationMs: number;
}

export interface MetricsOptions {
  /** Read at every scrape for the instance-state gauges (ControlPlane.list). */
  instances?: () => readonly InstanceRecord[];
}

const STATES: readonly InstanceRecord['observed'][] = ['starting', 'running', 'stopping', 'stopped', 'asleep', 'backoff', 'failed'];
const HEALTH: readonly InstanceRecord['health'][] = ['unknown', 'healthy', 'degraded', 'unhealthy', 'failed'];

/** Request latencies: sub-millisecond static files to slow uploads. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Cold wakes: the original measured 65-140 ms medians; slow runtimes take seconds. */
const WAKE_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30];
/** Caddy admin API pushes: usually a few ms, a large config or a busy Caddy more. */
const PUSH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

const PER_INSTANCE = ['service', 'instance'] as const;

/** "2xx", "4xx"...: one series per class, not per status code, keeps cardinality bounded. */
export function statusClass(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other';
}

export class Metrics {
  readonly registry = new Registry();
  private instancesSource: (() => readonly InstanceRecord[]) | undefined;

  private readonly restarts = new Counter({
    name: 'tenement_instance_restarts_total',
    help: 'Restarts of an instance by the supervisor (crash, failed health, operator restart).',
    labelNames: PER_INSTANCE,
    registers: [this.registry],
  });
  private readonly wakes = new Counter({
    name: 'tenement_instance_wakes_total',
    help: 'Sleeping instances started again by a request.',
    labelNames: PER_INSTANCE,
    registers: [this.registry],
  });
  private readonly wakeDuration = new Histogram({
    name: 'tenement_instance_cold_wake_duration_seconds',
    help: 'Time from the wake request to the instance being ready (the first request waits this long).',
    labelNames: PER_INSTANCE,
    buckets: WAKE_BUCKETS,
    registers: [this.registry],
  });
  private readonly healthChecks = new Counter({
    name: 'tenement_health_checks_total',
    help: 'Health checks of instances by result (ok or fail).',
    labelNames: [...PER_INSTANCE, 'result'],
    registers: [this.registry],
  });
  private readonly requests = new Counter({
    name: 'tenement_requests_total',
    help: "Requests to an instance seen in Caddy's access log, by status class.",
    labelNames: [...PER_INSTANCE, 'code'],
    registers: [this.registry],
  });
  private readonly requestDuration = new Histogram({
    name: 'tenement_request_duration_seconds',
    help: "Duration of requests to an instance, from Caddy's access log.",
    labelNames: PER_INSTANCE,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly caddyPushes = new Counter({
    name: 'tenement_caddy_config_pushes_total',
    help: "Configuration changes sent to Caddy's admin API (successful or not).",
    registers: [this.registry],
  });
  private readonly caddyPushFailures = new Counter({
    name: 'tenement_caddy_config_push_failures_total',
    help: "Configuration changes Caddy's admin API refused or did not answer.",
    registers: [this.registry],
  });
  private readonly caddyPushDuration = new Histogram({
    name: 'tenement_caddy_config_push_duration_seconds',
    help: "Duration of configuration pushes to Caddy's admin API.",
    buckets: PUSH_BUCKETS,
    registers: [this.registry],
  });
  private readonly logLines = new Counter({
    name: 'tenement_log_lines_indexed_total',
    help: 'Lines of instance output indexed into the log store.',
    labelNames: PER_INSTANCE,
    registers: [this.registry],
  });

  constructor(opts: MetricsOptions = {}) {
    this.instancesSource = opts.instances;
    // State gauges are computed from the source of truth at scrape time, so they can never drift
    // from what `ten ps` shows.
    const self = this;
    new Gauge({
      name: 'tenement_instances',
      help: 'Instances by service and observed state.',
      labelNames: ['service', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = new Map<string, Map<string, number>>();
        for (const r of self.instancesSource?.() ?? []) {
          let byState = counts.get(r.service);
          if (!byState) {
            byState = new Map(STATES.map((s) => [s, 0]));
            counts.set(r.service, byState);
          }
          byState.set(r.observed, (byState.get(r.observed) ?? 0) + 1);
        }
        for (const [service, byState] of counts) for (const [state, n] of byState) this.set({ service, state }, n);
      },
    });
    new Gauge({
      name: 'tenement_instances_up',
      help: 'Instances currently running (the original tenement had this name).',
      registers: [this.registry],
      collect() {
        this.set((self.instancesSource?.() ?? []).filter((r) => r.observed === 'running').length);
      },
    });
    new Gauge({
      name: 'tenement_instance_health',
      help: 'Health state of each instance: 1 for its current state, 0 for the others.',
      labelNames: [...PER_INSTANCE, 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of self.instancesSource?.() ?? []) {
          for (const h of HEALTH) this.set({ service: r.service, instance: r.id, state: h }, r.health === h ? 1 : 0);
        }
      },
    });
  }

  /** Free and total bytes of the data dir's file system, read at scrape time. */
  setDiskSource(source: () => { freeBytes: number; totalBytes: number }): void {
    const read = () => {
      try {
        return source();
      } catch {
        return undefined;
      }
    };
    new Gauge({
      name: 'tenement_data_dir_free_bytes',
      help: "Bytes free (for unprivileged writers) on the data dir's file system.",
      registers: [this.registry],
      collect() {
        const d = read();
        if (d) this.set(d.freeBytes);
      },
    });
    new Gauge({
      name: 'tenement_data_dir_size_bytes',
      help: "Size of the data dir's file system.",
      registers: [this.registry],
      collect() {
        const d = read();
        if (d) this.set(d.totalBytes);
      },
    });
  }

  /** Where the instance-state gauges come from (if not given to the constructor). */
  setInstanceSource(source: () => readonly InstanceRecord[]): void {
    this.instancesSource = source;
  }

  observeRequest(o: RequestObservation): void {
    const labels = { service: o.service, instance: o.instance };
    this.requests.inc({ ...labels, code: statusClass(o.status) });
    if (Number.isFinite(o.durationMs) && o.durationMs >= 0) this.requestDuration.observe(labels, o.durationMs / 1000);
  }

  observeCaddyPush(ok: boolean, durationMs: number): void {
    this.caddyPushes.inc();
    if (!ok) this.caddyPushFailures.inc();
    if (Number.isFinite(durationMs) && durationMs >= 0) this.caddyPushDuration.observe(durationMs / 1000);
  }

  observeRestart(labels: InstanceLabels): void {
    this.restarts.inc(pick(labels));
  }

  /** A sleeping instance woken by a request; `durationMs` until it was ready. */
  observeWake(labels: InstanceLabels, durationMs: number): void {
    this.wakes.inc(pick(labels));
    if (Number.isFinite(durationMs) && durationMs >= 0) this.wakeDuration.observe(pick(labels), durationMs / 1000);
  }

  observeHealthCheck(labels: InstanceLabels, ok: boolean): void {
    this.healthChecks.inc({ ...pick(labels), result: ok ? 'ok' : 'fail' });
  }

  observeLogLines(labels: InstanceLabels, count: number): void {
    if (count > 0) this.logLines.inc(pick(labels), count);
  }

  /** Drops the series of a removed instance so /metrics does not grow with every instance ever seen. */
  forgetInstance(labels: InstanceLabels): void {
    const l = pick(labels);
    for (const m of [this.restarts, this.wakes, this.wakeDuration, this.requestDuration, this.logLines]) m.remove(l);
    for (const result of ['ok', 'fail']) this.healthChecks.remove({ ...l, result });
    for (const code of ['1xx', '2xx', '3xx', '4xx', '5xx', 'other']) this.requests.remove({ ...l, code });
  }

  /** Prometheus text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function pick(labels: InstanceLabels): InstanceLabels {
  return { service: labels.service, instance: labels.instance };
}
