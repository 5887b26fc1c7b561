// Request activity from Caddy's access log: each request's end time marks its instance active
// (idle sleep), and its status and duration feed the request metrics. Streams (WebSocket, SSE)
// appear in the log only when they close, so "busy" also asks Caddy for requests in flight.
import type { CaddyAdminClient } from '../../caddy/admin-client.js';
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { FileFollower } from '../util/file-follower.js';
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

export interface ActivityOptions {
  file: string;
  supervisor: Pick<Supervisor, 'get' | 'list' | 'touch'>;
  admin: Pick<CaddyAdminClient, 'upstreams'>;
  config: () => Config;
  domain: string;
  log: Logger;
  /** Where to resume reading (persisted by the caller). */
  from: number | 'end';
  onOffset?: (offset: number) => void;
  onRequest?: (o: RequestObservation) => void;
  flushMs?: number;
}

export class Activity {
  private readonly follower: FileFollower;
  private readonly pending = new Map<string, { service: string; id: string; at: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ActivityOptions) {
    this.follower = new FileFollower({
      file: opts.file,
      from: opts.from,
      onLines: (lines, offset) => {
        for (const line of lines) this.ingest(line);
        opts.onOffset?.(offset);
      },
      onError: (err) => opts.log.warn('cannot read Caddy access log', { file: opts.file, error: err.message }),
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

  /** Reads new log lines now and records their activity (tests use this instead of waiting). */
  async sync(): Promise<void> {
    await this.follower.poll();
    this.flush();
  }

  private ingest(line: string): void {
    const entry = parseAccessLine(line);
    if (!entry) return;
    const config = this.opts.config();
    const target = resolveHost(entry.host, this.opts.domain, config.routing);
    if (!target || target.kind === 'root') return;
    const members =
      target.kind === 'instance'
        ? [{ service: target.service, id: target.id }]
        : // A service-route request went to one of its weighted members; the log does not say which,
          // so all of them count as active (round robin sends traffic to each anyway).
          this.opts.supervisor.list({ service: target.service }).filter((r) => r.weight > 0);
    for (const m of members) {
      const key = `${m.service}:${m.id}`;
      const prev = this.pending.get(key);
      if (!prev || prev.at < entry.at) this.pending.set(key, { service: m.service, id: m.id, at: entry.at });
    }
    if (target.kind === 'instance') {
      this.opts.onRequest?.({ service: target.service, instance: target.id, status: entry.status, durationMs: entry.durationMs });
    } else {
      this.opts.onRequest?.({ service: target.service, instance: '', status: entry.status, durationMs: entry.durationMs });
    }
  }

  private flush(): void {
    for (const [key, p] of this.pending) {
      this.pending.delete(key);
      if (this.opts.supervisor.get(p)) this.opts.supervisor.touch(p, p.at);
    }
  }

  /** True while Caddy has requests in flight to the instance (open streams included). */
  async isBusy(record: InstanceRecord): Promise<boolean> {
    // Read what Caddy logged up to now first, so a request that just ended counts as activity.
    await this.sync();
    try {
      const upstreams = await this.opts.admin.upstreams();
      const address = `127.0.0.1:${record.port}`;
      return upstreams.some((u) => u.address === address && u.num_requests > 0);
    } catch {
      // Without Caddy's answer, sleeping could cut a live stream: stay awake until it answers.
      return true;
    }
  }
}
