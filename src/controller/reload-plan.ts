// The pure part of a config reload: what a valid new config changes compared with the running one,
// and what it cannot change while tenement runs (refusals, pointed at their line in the file).
// Applying the plan is config-reload.ts's job.
import { isDeepStrictEqual } from 'node:util';
import { indexSource, type SourceIndex } from '../config/locate.js';
import { SETTINGS_SCHEMA } from '../config/schema.js';
import { processDefinition } from '../config/service-hash.js';
import type { Config, ConfigIssue, ServiceConfig, Settings } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';

/** What a valid new config would change, or why it cannot be applied while running. */
export interface ReloadPlan {
  /** Non-empty: the edit is refused as a whole. */
  refusals: ConfigIssue[];
  changes: string[];
  /** `[instances]` entries added by the edit that have no running record. */
  spawn: InstanceKey[];
  /** Services whose process definition changed (their instances need a restart to pick it up). */
  redefined: string[];
}

// Per-service keys tenement applies to running instances itself; everything in the process
// definition (service-hash.ts) needs a restart instead.
const LIVE_SERVICE_KEYS = ['idle_timeout', 'request_timeout', 'startup_timeout', 'restart', 'storage_persist', 'tenant_spawn'] as const satisfies readonly (keyof ServiceConfig)[];

const FROZEN_SETTINGS = ['data_dir', 'port_range_start', 'port_range_end'] as const satisfies readonly (keyof Settings)[];

const show = (v: unknown): string => (v === undefined ? '(unset)' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));

/**
 * Compares the running config with a valid new one. Pure: `records` is the supervisor's state and
 * `source` the new file's text (to point refusals at their line).
 */
export function planReload(prev: Config, next: Config, records: InstanceRecord[], source: string): ReloadPlan {
  const at: SourceIndex = indexSource(source);
  const issue = (key: string, message: string, exact = false): ConfigIssue => ({ file: next.file, line: exact ? at.exact(key) : at.line(key), key, message });
  const refusals: ConfigIssue[] = [];
  const changes: string[] = [];

  // Settings.
  const s0 = prev.settings;
  const s1 = next.settings;
  if (s0.data_dir !== s1.data_dir) {
    refusals.push(
      issue(
        'settings.data_dir',
        `data_dir cannot change while tenement runs (running: ${s0.data_dir}, file: ${s1.data_dir}); every instance, the database and the Caddy state live there. Restart the controller to use the new one (move the data first), or undo the edit`,
      ),
    );
  }
  if (s0.port_range_start !== s1.port_range_start || s0.port_range_end !== s1.port_range_end) {
    const key = s0.port_range_start !== s1.port_range_start ? 'settings.port_range_start' : 'settings.port_range_end';
    refusals.push(
      issue(
        key,
        `the port range cannot change while tenement runs (running: ${s0.port_range_start}-${s0.port_range_end}, file: ${s1.port_range_start}-${s1.port_range_end}); instances keep the ports they were given. Restart the controller to apply it, or undo the edit`,
      ),
    );
  }
  if (!isDeepStrictEqual(s0.tls, s1.tls)) {
    refusals.push(
      issue(
        'settings.tls',
        '[settings.tls] cannot change while tenement runs (the Caddy it manages was configured with it at start); restart the controller to apply it, or undo the edit',
      ),
    );
  }
  for (const key of Object.keys(s1) as (keyof Settings)[]) {
    if (key === 'tls' || (FROZEN_SETTINGS as readonly string[]).includes(key)) continue;
    if (isDeepStrictEqual(s0[key], s1[key])) continue;
    const secret = SETTINGS_SCHEMA.find((k) => k.key === key)?.secret === true;
    changes.push(secret ? `settings.${key}: changed` : `settings.${key}: ${show(s0[key])} -> ${show(s1[key])}`);
  }

  // Services.
  const byService = new Map<string, InstanceRecord[]>();
  for (const r of records) byService.set(r.service, [...(byService.get(r.service) ?? []), r]);
  const redefined: string[] = [];
  for (const name of Object.keys(prev.services)) {
    if (next.services[name]) continue;
    const left = byService.get(name) ?? [];
    if (left.length > 0) {
      const list = left.map((r) => `${formatKey(r)} (${r.observed})`).join(', ');
      const stops = left.map((r) => `ten stop ${formatKey(r)}`).join('; ');
      refusals.push({
        file: next.file,
        line: undefined,
        key: `service.${name}`,
        message: `service "${name}" was removed but still has instances: ${list}. Stop them first (${stops}), then save the file again; or put [service.${name}] back`,
      });
    } else {
      changes.push(`service ${name} removed`);
    }
  }
  for (const [name, svc] of Object.entries(next.services)) {
    const old = prev.services[name];
    if (!old) {
      changes.push(`service ${name} added`);
      continue;
    }
    const d0 = processDefinition(prev, old);
    const d1 = processDefinition(next, svc);
    const changed = Object.keys(d1).filter((k) => !isDeepStrictEqual(d0[k], d1[k]));
    if (changed.length) {
      redefined.push(name);
      changes.push(`service ${name}: ${changed.join(', ')} changed (applies as its instances restart; \`ten roll ${name}\` restarts them now)`);
    }
    for (const k of LIVE_SERVICE_KEYS) {
      if (!isDeepStrictEqual(old[k], svc[k])) changes.push(`service ${name}.${k}: ${show(old[k])} -> ${show(svc[k])}`);
    }
  }

  // [instances]: additions are spawned; removals stop nothing (the instance is still there, and
  // still restored at the next start, until someone stops it).
  const spawn: InstanceKey[] = [];
  for (const [service, ids] of Object.entries(next.instances)) {
    const before = new Set(prev.instances[service] ?? []);
    for (const id of ids) {
      if (before.has(id)) continue;
      const record = records.find((r) => r.service === service && r.id === id);
      if (record && record.desired !== 'stopped') {
        changes.push(`instances: ${service}:${id} declared (already exists, ${record.observed})`);
        continue;
      }
      spawn.push({ service, id });
      changes.push(`instances: ${service}:${id} added (spawning)`);
    }
  }
  for (const [service, ids] of Object.entries(prev.instances)) {
    const after = new Set(next.instances[service] ?? []);
    for (const id of ids) {
      if (after.has(id)) continue;
      const exists = records.some((r) => r.service === service && r.id === id);
      changes.push(`instances: ${service}:${id} no longer declared${exists ? ` (still running; \`ten stop ${service}:${id}\` removes it)` : ''}`);
    }
  }

  // [routing].
  const r0 = prev.routing;
  const r1 = next.routing;
  if (r0.default !== r1.default) changes.push(`routing.default: ${show(r0.default)} -> ${show(r1.default)}`);
  for (const table of ['subdomain', 'path'] as const) {
    const a = r0[table];
    const b = r1[table];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[k] === b[k]) continue;
      changes.push(`routing.${table} ${show(k)}: ${a[k] === undefined ? 'added' : show(a[k])} -> ${b[k] === undefined ? 'removed' : show(b[k])}`);
    }
  }

  return { refusals, changes, spawn, redefined };
}
