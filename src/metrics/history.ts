// The last hour of requests, latency, restarts and wakes per instance, kept in memory so the
// dashboard can draw charts without an external Prometheus. Time is cut into fixed slots (30 s by
// default, 120 of them = one hour); an observation adds to the slot its time falls in. Only slots
// that saw something are stored, so idle instances cost nothing, and slots older than the window
// are dropped as new ones arrive (and at every read). Nothing is written to disk: a controller
// restart starts an empty history (Prometheus's /metrics is the durable record).
import type { InstanceLabels } from './metrics.js';

export interface HistoryOptions {
  /** Slot length; default 30 s. */
  stepMs?: number;
  /** How far back the history goes; default one hour. */
  windowMs?: number;
  now?: () => number;
}

/** What one slot of one instance holds. */
interface Slot {
  requests: number;
  /** Answers with status >= 500. */
  errors: number;
  latencySumMs: number;
  /** Requests whose duration was known (the average divides by this). */
  latencyCount: number;
  latencyMaxMs: number;
  restarts: number;
  wakes: number;
}

interface Series {
  service: string;
  instance: string;
  slots: Map<number, Slot>;
}

/** One series' values, oldest slot first; latency is null for slots without requests. */
export interface HistoryValues {
  requests: number[];
  errors: number[];
  latency_avg_ms: Array<number | null>;
  latency_max_ms: Array<number | null>;
  restarts: number[];
  wakes: number[];
}

export interface HistoryServiceJson extends HistoryValues {
  process: string;
}

export interface HistoryInstanceJson extends HistoryValues {
  /** "service:id". */
  instance: string;
  process: string;
  instance_id: string;
}

/** GET /api/history. */
export interface HistoryJson {
  step_secs: number;
  window_secs: number;
  /** Start of the first slot (RFC 3339); slot i starts at start + i * step_secs. */
  start: string;
  /** Number of slots in every array (the last one is the current, still filling). */
  points: number;
  /**
   * Whether requests are counted at all (the controller follows Caddy's access log:
   * `request_metrics = true`, or `--caddy-access-log`). When false, `requests`, `errors` and
   * latency are empty because nothing counts them, not because nothing was asked; restarts and
   * wakes are recorded either way.
   */
  request_metrics: boolean;
  services: HistoryServiceJson[];
  instances: HistoryInstanceJson[];
}

export interface HistoryFilter {
  service?: string;
  /** Instance id: a tenant sees only its own instances, and service sums of those alone. */
  id?: string;
}

const empty = (): Slot => ({ requests: 0, errors: 0, latencySumMs: 0, latencyCount: 0, latencyMaxMs: 0, restarts: 0, wakes: 0 });

export class History {
  readonly stepMs: number;
  readonly points: number;
  private readonly now: () => number;
  private readonly series = new Map<string, Series>();
  private countingRequests = false;

  constructor(opts: HistoryOptions = {}) {
    this.stepMs = opts.stepMs ?? 30_000;
    this.points = Math.max(1, Math.round((opts.windowMs ?? 3_600_000) / this.stepMs));
    this.now = opts.now ?? Date.now;
  }

  /** Requests are counted from now on (the controller has started following an access log). */
  countRequests(): void {
    this.countingRequests = true;
  }

  /** See HistoryJson.request_metrics. */
  get requestMetrics(): boolean {
    return this.countingRequests;
  }

  observeRequest(labels: InstanceLabels, status: number, durationMs: number): void {
    const s = this.slot(labels);
    s.requests++;
    if (status >= 500) s.errors++;
    if (Number.isFinite(durationMs) && durationMs >= 0) {
      s.latencySumMs += durationMs;
      s.latencyCount++;
      s.latencyMaxMs = Math.max(s.latencyMaxMs, durationMs);
    }
  }

  observeRestart(labels: InstanceLabels): void {
    this.slot(labels).restarts++;
  }

  observeWake(labels: InstanceLabels): void {
    this.slot(labels).wakes++;
  }

  /** The window up to now, per instance (matching the filter) and summed per service. */
  snapshot(filter: HistoryFilter = {}): HistoryJson {
    const current = Math.floor(this.now() / this.stepMs);
    const first = current - this.points + 1;
    this.prune(first);
    const instances: HistoryInstanceJson[] = [];
    const services = new Map<string, Slot[]>();
    const sorted = [...this.series.values()].sort((a, b) => a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance));
    for (const s of sorted) {
      if ((filter.service !== undefined && s.service !== filter.service) || (filter.id !== undefined && s.instance !== filter.id)) continue;
      const row = Array.from({ length: this.points }, (_, i) => s.slots.get(first + i) ?? empty());
      instances.push({ instance: `${s.service}:${s.instance}`, process: s.service, instance_id: s.instance, ...values(row) });
      const sum = services.get(s.service) ?? Array.from({ length: this.points }, empty);
      row.forEach((slot, i) => add(sum[i]!, slot));
      services.set(s.service, sum);
    }
    return {
      step_secs: this.stepMs / 1000,
      window_secs: (this.points * this.stepMs) / 1000,
      start: new Date(first * this.stepMs).toISOString(),
      points: this.points,
      request_metrics: this.countingRequests,
      services: [...services].map(([process, row]) => ({ process, ...values(row) })),
      instances,
    };
  }

  private slot(labels: InstanceLabels): Slot {
    const key = `${labels.service}:${labels.instance}`;
    let s = this.series.get(key);
    if (!s) {
      s = { service: labels.service, instance: labels.instance, slots: new Map() };
      this.series.set(key, s);
    }
    const index = Math.floor(this.now() / this.stepMs);
    let slot = s.slots.get(index);
    if (!slot) {
      // A new slot for this series: the moment to drop what fell out of its window.
      for (const k of s.slots.keys()) if (k <= index - this.points) s.slots.delete(k);
      slot = empty();
      s.slots.set(index, slot);
    }
    return slot;
  }

  private prune(first: number): void {
    for (const [key, s] of this.series) {
      for (const k of s.slots.keys()) if (k < first) s.slots.delete(k);
      if (s.slots.size === 0) this.series.delete(key);
    }
  }
}

function add(into: Slot, from: Slot): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.latencySumMs += from.latencySumMs;
  into.latencyCount += from.latencyCount;
  into.latencyMaxMs = Math.max(into.latencyMaxMs, from.latencyMaxMs);
  into.restarts += from.restarts;
  into.wakes += from.wakes;
}

const round = (n: number) => Math.round(n * 10) / 10;

function values(row: Slot[]): HistoryValues {
  return {
    requests: row.map((s) => s.requests),
    errors: row.map((s) => s.errors),
    latency_avg_ms: row.map((s) => (s.latencyCount ? round(s.latencySumMs / s.latencyCount) : null)),
    latency_max_ms: row.map((s) => (s.latencyCount ? round(s.latencyMaxMs) : null)),
    restarts: row.map((s) => s.restarts),
    wakes: row.map((s) => s.wakes),
  };
}
