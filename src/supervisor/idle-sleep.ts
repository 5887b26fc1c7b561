// Putting idle instances to sleep: once a second, every running instance of a service with
// `idle_timeout > 0` whose last request (or start) is older than that, and that has no request in
// flight, is stopped as `asleep` (record, port and data kept; the next request wakes it).
import type { ServiceConfig } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import { formatKey } from '../util/instance-key.js';
import type { Logger } from '../util/logger.js';

type Activity = Pick<InstanceRecord, 'lastActivityAt' | 'startedAt'>;

/** True when nothing happened to the instance (no request, no start) for `idleTimeoutS`. */
export function idleExpired(record: Activity, idleTimeoutS: number, now: number): boolean {
  return now - Math.max(record.lastActivityAt ?? 0, record.startedAt ?? 0) >= idleTimeoutS * 1000;
}

/** Whether the instance should be put to sleep now (before asking whether requests are in flight). */
export function shouldSleep(record: InstanceRecord, service: ServiceConfig | undefined, now: number): boolean {
  if (!service || service.idle_timeout <= 0) return false;
  if (record.observed !== 'running' || record.desired !== 'running') return false;
  return idleExpired(record, service.idle_timeout, now);
}

export interface IdleSleepDeps {
  list: () => InstanceRecord[];
  get: (record: InstanceRecord) => InstanceRecord | undefined;
  service: (name: string) => ServiceConfig | undefined;
  /** Requests in flight for an instance (fed by Caddy); a busy instance is never put to sleep. */
  isBusy?: ((record: InstanceRecord) => boolean | Promise<boolean>) | undefined;
  sleep: (record: InstanceRecord) => Promise<void>;
  now: () => number;
  closed: () => boolean;
  log: Logger;
}

export class IdleSleep {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: IdleSleepDeps) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sweep(): Promise<void> {
    const d = this.deps;
    if (d.closed()) return;
    const now = d.now();
    for (const record of d.list()) {
      const service = d.service(record.service);
      if (!service || !shouldSleep(record, service, now)) continue;
      if (d.isBusy && (await d.isBusy(record))) continue;
      // isBusy may have just read fresh activity: judge again on the stored record.
      const fresh = d.get(record);
      if (!fresh || !idleExpired(fresh, service.idle_timeout, now)) continue;
      d.sleep(record).catch((err: Error) => d.log.error('could not put instance to sleep', { instance: formatKey(record), error: err.message }));
    }
  }
}
