// Periodically trims the log store to the configured age and size. LogStore.enforceRetention
// deletes in small batches with the event loop getting a turn in between, so a large backlog
// (first start after a long downtime, a lowered limit) never stalls API requests.
import type { LogStore, RetentionPolicy } from '../store/log-store.js';
import type { Logger } from '../util/logger.js';

export interface RetentionSettings {
  /** settings.log_retention_days; 0 or less = no age limit. */
  log_retention_days: number;
  /** settings.log_retention_mb; 0 or less = no size limit. */
  log_retention_mb: number;
}

export interface LogRetentionOptions {
  store: LogStore;
  /** Read at every run, so a config reload takes effect without restarting this. */
  settings: () => RetentionSettings;
  log: Logger;
  /** Default 5 minutes. */
  intervalMs?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;

export function retentionPolicy(s: RetentionSettings, now: number): RetentionPolicy {
  const policy: RetentionPolicy = { now };
  if (s.log_retention_days > 0) policy.maxAgeMs = s.log_retention_days * DAY_MS;
  if (s.log_retention_mb > 0) policy.maxBytes = Math.floor(s.log_retention_mb * 1024 * 1024);
  return policy;
}

export class LogRetention {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<number> | undefined;

  constructor(private readonly opts: LogRetentionOptions) {}

  /** Runs once right away (not awaited) and then every interval. */
  start(): void {
    if (this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs ?? 5 * 60_000);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a run in progress (the store may be closed afterwards). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.current?.catch(() => undefined);
  }

  /** One retention pass; resolves with the number of lines deleted (0 on error, which is logged). */
  runOnce(): Promise<number> {
    const policy = retentionPolicy(this.opts.settings(), (this.opts.now ?? Date.now)());
    const run = this.opts.store.enforceRetention(policy).then(
      (deleted) => {
        if (deleted > 0) this.opts.log.info('log retention deleted old lines', { deleted, max_age_ms: policy.maxAgeMs ?? null, max_bytes: policy.maxBytes ?? null });
        return deleted;
      },
      (err: Error) => {
        this.opts.log.error('log retention failed', { error: err.message });
        return 0;
      },
    );
    this.current = run;
    return run;
  }
}
