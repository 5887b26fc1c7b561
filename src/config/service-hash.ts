// A stable fingerprint of what a service's process is started with. Each instance records the
// hash of the definition it was started with (InstanceRecord.configHash), so after a config edit
// the instances still running an older definition can be found and rolled.
//
// Only what is fixed for the life of a process is hashed: the command line, environment, working
// directory, the health check the supervisor runs against it and the (declared) limits. Settings
// that tenement applies to a running instance without restarting it (idle_timeout,
// request_timeout, startup_timeout, restart, storage_persist) are left out, so changing them never
// asks for a roll.
import crypto from 'node:crypto';
import path from 'node:path';
import type { Config, ServiceConfig } from './types.js';

/** The part of a service definition that a restart is needed to apply, with paths resolved. */
export function processDefinition(config: Config, service: ServiceConfig): Record<string, unknown> {
  return {
    command: service.command,
    args: service.args ?? null,
    env: Object.fromEntries(Object.entries(service.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    // The same default the launcher uses: relative commands run next to tenement.toml.
    cwd: service.workdir ?? path.dirname(config.file),
    health: service.health ?? null,
    isolation: service.isolation,
    user: service.user ?? null,
    pids_limit: service.pids_limit ?? null,
    memory_limit_mb: service.memory_limit_mb ?? null,
    cpu_shares: service.cpu_shares ?? null,
    storage_quota_mb: service.storage_quota_mb ?? null,
    // Placeholders like {data_dir} expand against it (it cannot change while running, but a
    // record adopted from another data dir must not look current).
    data_dir: config.settings.data_dir,
  };
}

/** `sha256:` and 16 hex digits; equal definitions hash equal whatever the key order in the file. */
export function serviceHash(config: Config, service: ServiceConfig): string {
  const digest = crypto
    .createHash('sha256')
    .update(canonicalJson(processDefinition(config, service)))
    .digest('hex');
  return `sha256:${digest.slice(0, 16)}`;
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
