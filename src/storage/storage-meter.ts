// How much each instance keeps in its data folder, against its `storage_quota_mb`. Measured in the
// background (every 30 s by default, one instance at a time, yielding between folders) and kept in
// memory: the API, `ten ps` and /metrics read the last measurement, never walk a tree per request.
// Over quota is reported (a warning when it is crossed, `over_quota` in the API), not enforced.
//
// Only a running process writes to its folder, so a pass skips an instance that has not run since
// its last measurement: a thousand sleeping instances are walked once, not every 30 s (issue 9:
// nothing periodic per sleeping instance).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../util/logger.js';
import { instanceDir } from '../supervisor/layout.js';

export interface StorageUsage {
  /** Apparent size of the files (bytes), like the original's. */
  used_bytes: number;
  quota_bytes: number | null;
  path: string;
  usage_percent: number | null;
  over_quota: boolean;
  /** When this was measured (ISO time). */
  measured_at: string;
}

/** Sum of file sizes under `dir` (symlinks not followed); 0 when it does not exist. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          total += (await fs.lstat(p)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}

export interface MeteredInstance {
  service: string;
  id: string;
  /** The instance's process now (null: none). */
  pid: number | null;
  /** When its process last started (epoch ms), if ever. */
  startedAt: number | null;
}

export interface StorageMeterOptions {
  config: () => Config;
  /** The instances to measure. */
  instances: () => ReadonlyArray<MeteredInstance>;
  log: Logger;
  intervalMs?: number;
}

export class StorageMeter {
  private readonly last = new Map<string, { used: number; at: number }>();
  private readonly over = new Set<string>();
  /** Instances that had a process at the last pass: measured once more after it is gone. */
  private readonly hadProcess = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: StorageMeterOptions) {}

  start(): void {
    void this.measureAll();
    this.timer = setInterval(() => void this.measureAll(), this.opts.intervalMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass over every instance (a pass already running is shared). */
  measureAll(): Promise<void> {
    // .finally runs after this assignment even when a pass has nothing to await (all skipped).
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const seen = new Set<string>();
    for (const i of this.opts.instances()) {
      const k = `${i.service}:${i.id}`;
      seen.add(k);
      const last = this.last.get(k);
      const ranSince = i.pid !== null || this.hadProcess.has(k) || (i.startedAt !== null && last !== undefined && i.startedAt >= last.at);
      if (i.pid !== null) this.hadProcess.add(k);
      else this.hadProcess.delete(k);
      if (last !== undefined && !ranSince) continue;
      await this.measure(i.service, i.id);
    }
    for (const k of this.last.keys()) if (!seen.has(k)) this.last.delete(k);
    for (const k of this.hadProcess) if (!seen.has(k)) this.hadProcess.delete(k);
  }

  async measure(service: string, id: string): Promise<StorageUsage> {
    const config = this.opts.config();
    const used = await directorySize(instanceDir(config.settings.data_dir, service, id));
    const k = `${service}:${id}`;
    this.last.set(k, { used, at: Date.now() });
    const usage = this.usage(service, id)!;
    if (usage.over_quota && !this.over.has(k)) {
      this.over.add(k);
      this.opts.log.warn('instance is over its storage quota', { instance: k, usedBytes: usage.used_bytes, quotaBytes: usage.quota_bytes, path: usage.path });
    } else if (!usage.over_quota && this.over.delete(k)) {
      this.opts.log.info('instance is back under its storage quota', { instance: k, usedBytes: usage.used_bytes });
    }
    return usage;
  }

  /** The last measurement, or null before the first one. */
  usage(service: string, id: string): StorageUsage | null {
    const m = this.last.get(`${service}:${id}`);
    if (!m) return null;
    const config = this.opts.config();
    const quotaMb = config.services[service]?.storage_quota_mb;
    const quota = quotaMb === undefined ? null : quotaMb * 1024 * 1024;
    return {
      used_bytes: m.used,
      quota_bytes: quota,
      path: instanceDir(config.settings.data_dir, service, id),
      usage_percent: quota === null ? null : quota === 0 ? (m.used > 0 ? 100 : 0) : Math.round((m.used / quota) * 10000) / 100,
      over_quota: quota !== null && m.used > quota,
      measured_at: new Date(m.at).toISOString(),
    };
  }
}
