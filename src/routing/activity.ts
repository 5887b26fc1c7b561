// Request activity of instances, for idle sleep. By default it comes from the kernel's TCP table
// (connections.ts): free on the request path, and read only when an instance is a candidate for
// sleep (its stored activity is older than its idle_timeout), so nothing runs per instance while
// instances are busy or asleep. Optionally (settings.request_metrics) Caddy's JSON access log is
// followed too, for per-request metrics; each request's end time then also marks its instance
// active. That log costs Caddy a JSON line per request and the controller a parse per request
// (docs/performance.md).
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { FileFollower } from '../util/file-follower.js';
import { portActivity, readTcpTables } from './connections.js';
import { resolveHost } from './hosts.js';

export interface AccessEntry {
  host: string;
  status: number;
  durationMs: number;
  /** End of the request, epoch ms. */
  at: number;
}

/** Parses one JSON access-log line of Caddy; undefined for other log lines. */
export function parseAccessLine(line: string): AccessEntry | undefined {
  let e: { ts?: number; duration?: number; status?: number; request?: { host?: string }; msg?: string };
  try {
    e = JSON.parse(line) as typeof e;
  } catch {
    return undefined;
  }
  if (!e.request?.host || typeof e.ts !== 'number') return undefined;
  return { host: e.request.host, status: e.status ?? 0, durationMs: (e.duration ?? 0) * 1000, at: Math.round(e.ts * 1000) };
}

export interface RequestObservation {
  service: string;
  instance: string;
  status: number;
  durationMs: number;
}

export interface AccessLogOptions {
  file: string;
  /** Where to resume reading (persisted by the caller). */
  from: number | 'end';
  onOffset?: (offset: number) => void;
  onRequest?: (o: RequestObservation) => void;
  flushMs?: number;
}

export interface ActivityOptions {
  supervisor: Supervisor;
  config: () => Config;
  domain: string;
  log: Logger;
  now?: () => number;
  /** The TCP tables to read (tests give fixed text). */
  tables?: () => Promise<string[]>;
}

/** Follows Caddy's access log: request metrics, and activity of the instances named by the Host. */
class AccessLog {
  private readonly follower: FileFollower;
  private readonly pending = new Map<string, { service: string; id: string; at: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly activity: ActivityOptions,
    private readonly opts: AccessLogOptions,
  ) {
    this.follower = new FileFollower({
      file: opts.file,
      from: opts.from,
      onLines: (lines, offset) => {
        for (const line of lines) this.ingest(line);
        opts.onOffset?.(offset);
      },
      onError: (err) => activity.log.warn('cannot read Caddy access log', { file: opts.file, error: err.message }),
    });
  }

  start(): void {
    this.follower.start();
    this.flushTimer = setInterval(() => this.flush(), this.opts.flushMs ?? 1000);
    this.flushTimer.unref();
  }

  stop(): void {
    this.follower.stop();
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flush();
  }

  async sync(): Promise<void> {
    await this.follower.poll();
    this.flush();
  }

  private ingest(line: string): void {
    const entry = parseAccessLine(line);
    if (!entry) return;
    const { config, domain } = this.activity;
    const target = resolveHost(entry.host, domain, config().routing);
    if (!target || target.kind === 'root') return;
    if (target.kind === 'instance') {
      const key = `${target.service}:${target.id}`;
      const prev = this.pending.get(key);
      if (!prev || prev.at < entry.at) this.pending.set(key, { service: target.service, id: target.id, at: entry.at });
      // Unknown hosts are the metrics' business: it keeps labels to known instances.
      this.opts.onRequest?.({ service: target.service, instance: target.id, status: entry.status, durationMs: entry.durationMs });
    } else {
      // Which member served a service-route request is not in the log; connections tell (isBusy).
      this.opts.onRequest?.({ service: target.service, instance: '', status: entry.status, durationMs: entry.durationMs });
    }
  }

  private flush(): void {
    for (const [key, p] of this.pending) {
      this.pending.delete(key);
      if (this.activity.supervisor.get(p)) this.activity.supervisor.touch(p, p.at);
    }
  }
}

export class Activity {
  private accessLog: AccessLog | undefined;

  constructor(private readonly opts: ActivityOptions) {}

  /** Also follow Caddy's access log (request metrics). */
  followAccessLog(o: AccessLogOptions): void {
    if (this.accessLog) return;
    this.accessLog = new AccessLog(this.opts, o);
    this.accessLog.start();
  }

  get followsAccessLog(): boolean {
    return this.accessLog !== undefined;
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.accessLog?.stop();
  }

  /** Reads new access-log lines now, if a log is followed (tests use this instead of waiting). */
  async sync(): Promise<void> {
    await this.accessLog?.sync();
  }

  /**
   * True while a connection to the instance is open (a request or stream in flight, or an idle
   * connection Caddy is about to close). Records the end of its latest closed connection as
   * activity, so the caller's next look at the record sees it.
   */
  async isBusy(record: InstanceRecord): Promise<boolean> {
    await this.sync();
    const now = (this.opts.now ?? Date.now)();
    let tables: string[];
    try {
      tables = await (this.opts.tables ?? readTcpTables)();
    } catch {
      // Without the table, sleeping could cut a live stream: stay awake.
      return true;
    }
    // Stopped while reading (the controller is closing, its store with it): nothing to record.
    if (this.stopped) return true;
    const a = portActivity(tables, record.port, now);
    const at = a.open ? now : a.lastClosedAt;
    if (at !== undefined && at > (record.lastActivityAt ?? 0) && this.opts.supervisor.get(record)) this.opts.supervisor.touch(record, at);
    return a.open;
  }
}
