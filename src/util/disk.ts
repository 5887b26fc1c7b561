// Free space of the file system holding a path: a full disk makes every write fail (the store, the
// tenants' output, Caddy's logs), so it has to show in /health and the metrics before it happens.
import fs from 'node:fs';

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export function diskSpace(dir: string): DiskSpace {
  const s = fs.statfsSync(dir);
  // bavail: what an unprivileged writer can still use (tenants are not root).
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

const MB = 1024 * 1024;

/** The disk part of /health: not ok below `minFreeMb`. */
export function diskHealth(dir: string, minFreeMb: number): { ok: boolean; detail: string } {
  try {
    const { freeBytes, totalBytes } = diskSpace(dir);
    const pct = totalBytes > 0 ? Math.round((freeBytes / totalBytes) * 100) : 0;
    const detail = `${(freeBytes / MB).toFixed(1)} MB free of ${(totalBytes / MB).toFixed(1)} MB (${pct}%) on ${dir}`;
    if (freeBytes < minFreeMb * MB) return { ok: false, detail: `${detail}: below disk_min_free_mb (${minFreeMb} MB); writes may fail` };
    return { ok: true, detail };
  } catch (err) {
    return { ok: false, detail: `cannot read free space of ${dir}: ${(err as Error).message}` };
  }
}
