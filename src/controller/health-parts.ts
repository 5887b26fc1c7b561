// The parts of the controller's /health answer: the database answers, the running config is what
// the file says (or why not), and Caddy has the current routes.
import type { PartHealth } from '../api/contract.js';

export interface HealthSources {
  /** One trivial query proves the database answers. */
  db: { prepare(sql: string): { get(): unknown } };
  /** The config reloader's verdict. */
  config: () => PartHealth;
  /** Route pushes to Caddy, when there is a Caddy. */
  /** Free space where the data dir lives. */
  disk: () => PartHealth;
  routes?: { describe: () => string; stats: () => { inSync: boolean; pushes: number; lastError: string | null } } | undefined;
}

export function healthParts(src: HealthSources): Record<string, PartHealth> {
  const parts: Record<string, PartHealth> = {};
  try {
    src.db.prepare('SELECT 1').get();
    parts.store = { ok: true };
  } catch (err) {
    parts.store = { ok: false, detail: (err as Error).message };
  }
  parts.config = src.config();
  parts.disk = src.disk();
  if (src.routes) {
    const s = src.routes.stats();
    parts.caddy = s.inSync ? { ok: true, detail: `${src.routes.describe()}, ${s.pushes} pushes` } : { ok: false, detail: s.lastError ?? 'routes not pushed yet' };
  }
  return parts;
}
