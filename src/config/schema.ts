// The single description of every key tenement.toml may contain. The validator, `ten config`
// and the docs all read it, so a key's default, range and wording live in one place only.
import type { ServiceConfig, Settings, TlsSettings } from './types.js';

export type ValueKind =
  | 'integer'
  | 'string'
  /** A string naming a file or folder; relative values are resolved against the config file's folder. */
  | 'path'
  | 'boolean'
  | 'enum'
  | 'string-array'
  | 'string-table';

export type DefaultValue = number | string | boolean;

export interface KeySpec<K extends string = string> {
  readonly key: K;
  readonly kind: ValueKind;
  /** Absent: the key is optional with no value (or required, see `required`). */
  readonly default?: DefaultValue;
  readonly required?: boolean;
  /** Inclusive bounds for integers. */
  readonly min?: number;
  readonly max?: number;
  /** Plural unit used in messages ("a whole number of seconds >= 1"). */
  readonly unit?: string;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** Values the original tenement knew but this version refuses (named in the error, never ignored). */
  readonly unimplemented?: readonly string[];
  /** Must be >= the value of this sibling key. */
  readonly atLeastKey?: string;
  /** Another name accepted for the same setting. */
  readonly aliasOf?: string;
  /** May contain `{placeholders}` (see template.ts). */
  readonly templated?: boolean;
  /** Parsed but has no effect yet: each use produces a warning naming what is not done. */
  readonly notEnforced?: string;
  /** A secret: never shown in reload messages or logs. */
  readonly secret?: boolean;
  /** One line for `ten config` and the docs. */
  readonly doc: string;
}

export const SETTINGS_SCHEMA: readonly KeySpec<Exclude<keyof Settings, 'tls'>>[] = [
  { key: 'data_dir', kind: 'path', default: './tenement-data', doc: 'Folder for instance data, logs and state; relative to the config file.' },
  { key: 'health_check_interval', kind: 'integer', default: 10, min: 1, unit: 'seconds', doc: 'Seconds between health checks of one instance.' },
  { key: 'max_restarts', kind: 'integer', default: 3, min: 0, doc: 'Restarts allowed within restart_window before an instance is marked failed.' },
  { key: 'restart_window', kind: 'integer', default: 300, min: 1, unit: 'seconds', doc: 'Seconds over which restarts are counted.' },
  {
    key: 'backoff_base_ms',
    kind: 'integer',
    default: 1000,
    min: 0,
    unit: 'milliseconds',
    doc: 'Backoff unit: the first restart in a window is immediate, then base, 2x base, 4x base ... up to backoff_max_ms.',
  },
  { key: 'backoff_max_ms', kind: 'integer', default: 60000, min: 0, unit: 'milliseconds', atLeastKey: 'backoff_base_ms', doc: 'Longest restart delay.' },
  { key: 'port_range_start', kind: 'integer', default: 30000, min: 1024, max: 65535, doc: 'First port instances are given (inclusive).' },
  { key: 'port_range_end', kind: 'integer', default: 40000, min: 1024, max: 65535, atLeastKey: 'port_range_start', doc: 'Last port instances are given (inclusive).' },
  { key: 'stop_timeout', kind: 'integer', default: 10, min: 0, unit: 'seconds', doc: 'Seconds between SIGTERM and SIGKILL when stopping an instance.' },
  { key: 'log_retention_days', kind: 'integer', default: 7, min: 0, unit: 'days', doc: 'Delete log lines older than this; 0 = keep forever.' },
  { key: 'log_retention_mb', kind: 'integer', default: 256, min: 1, unit: 'MB', doc: 'Trim the oldest log lines to stay under this size.' },
  {
    key: 'log_file_max_mb',
    kind: 'integer',
    default: 64,
    min: 1,
    unit: 'MB',
    doc: 'Captured stdout/stderr files are emptied (after their lines are indexed) once they reach this size, so a chatty tenant cannot fill the disk.',
  },
  {
    key: 'log_file_max_age_days',
    kind: 'integer',
    default: 7,
    min: 0,
    unit: 'days',
    doc: 'Captured stdout/stderr files not written for this long are emptied (their lines stay in the store until log_retention_days); files of sleeping instances are looked at hourly; 0 = never.',
  },
  {
    key: 'disk_min_free_mb',
    kind: 'integer',
    default: 256,
    min: 0,
    unit: 'MB',
    doc: "Below this much free space on the data dir's file system, /health reports the disk part as not ok (status degraded).",
  },
  {
    key: 'trusted_proxies',
    kind: 'string-array',
    doc: 'IP addresses of proxies whose X-Forwarded-For names the client for the failed-login limit (e.g. ["127.0.0.1"] when only Caddy runs on the host); default none: failures count against the connecting address.',
  },
  {
    key: 'metrics_token',
    kind: 'string',
    secret: true,
    doc: 'When set, GET /metrics requires "Authorization: Bearer <metrics_token>" (or an admin API token); at least 16 characters.',
  },
  {
    key: 'uid_range_start',
    kind: 'integer',
    default: 600000,
    min: 1000,
    max: 2147483646,
    doc: 'First uid (and gid) given to instances when the controller runs as root (inclusive); recorded per instance.',
  },
  { key: 'uid_range_end', kind: 'integer', default: 699999, min: 1000, max: 2147483646, atLeastKey: 'uid_range_start', doc: 'Last uid given to instances (inclusive).' },
  {
    key: 'request_metrics',
    kind: 'boolean',
    default: false,
    doc: "Per-request metrics from Caddy's JSON access log (read at start). Costs Caddy a log line per request: about a quarter of its throughput (docs/performance.md).",
  },
];

/** `[settings.tls]`: the original's keys, now configuring HTTPS in the Caddy tenement runs. */
export const TLS_SCHEMA: readonly KeySpec<keyof TlsSettings>[] = [
  {
    key: 'enabled',
    kind: 'boolean',
    default: false,
    doc: 'Serve HTTPS in the managed Caddy (certificates on demand for hosts /caddy/ask approves); HTTP redirects to it. Same as `ten serve --tls`.',
  },
  { key: 'acme_email', kind: 'string', doc: "ACME account email for Let's Encrypt (required for public domains; `ten serve --email`)." },
  {
    key: 'domain',
    kind: 'string',
    doc: "Domain served over HTTPS; default: `ten serve --domain`. Local names (localhost, *.localhost, *.local, *.internal, *.test) get certificates from Caddy's internal CA.",
  },
  { key: 'staging', kind: 'boolean', default: false, doc: "Use Let's Encrypt's staging CA (untrusted certificates, for testing; `ten serve --staging`)." },
  { key: 'https_port', kind: 'integer', default: 443, min: 1, max: 65535, doc: 'HTTPS port of the managed Caddy.' },
  { key: 'http_port', kind: 'integer', default: 80, min: 1, max: 65535, doc: 'HTTP port of the managed Caddy: redirects to HTTPS and answers ACME HTTP challenges.' },
  { key: 'dns_provider', kind: 'string', doc: 'ACME DNS challenge provider, e.g. "cloudflare"; needs a Caddy built with that caddy-dns module (refused at start otherwise).' },
];

/** Keys of `[service.NAME]`: every field of ServiceConfig except the name, plus the `runtime` alias. */
export type ServiceKey = Exclude<keyof ServiceConfig, 'name'> | 'runtime';

/** Isolation kinds the original tenement offered; refused by name so nobody believes they got one. */
export const UNIMPLEMENTED_ISOLATION: readonly string[] = ['sandbox', 'gvisor', 'firecracker', 'qemu', 'vm', 'wasm'];

export const SERVICE_SCHEMA: readonly KeySpec<ServiceKey>[] = [
  { key: 'command', kind: 'string', required: true, templated: true, doc: 'Program to run; shell-split (quotes honoured, no shell) unless args is given.' },
  { key: 'args', kind: 'string-array', templated: true, doc: 'Arguments passed verbatim; then command is the program and is not split.' },
  { key: 'health', kind: 'string', doc: 'HTTP path probed on the instance, e.g. "/health"; absent = TCP connect check.' },
  { key: 'env', kind: 'string-table', templated: true, doc: 'Extra environment variables (string values).' },
  { key: 'workdir', kind: 'path', doc: 'Working directory; relative to the config file.' },
  {
    key: 'isolation',
    kind: 'enum',
    default: 'namespace',
    values: ['namespace', 'process'],
    unimplemented: UNIMPLEMENTED_ISOLATION,
    doc: '"namespace": own uid, PID/IPC/mount namespaces (bubblewrap), only DATA_DIR writable; "process": own uid, no namespaces. See docs/isolation.md.',
  },
  { key: 'runtime', kind: 'enum', values: ['namespace', 'process'], unimplemented: UNIMPLEMENTED_ISOLATION, aliasOf: 'isolation', doc: 'Older name of isolation.' },
  { key: 'user', kind: 'string', doc: 'Run as this existing user (name or uid) instead of an instance uid of its own; "root" only for apps that cannot move (docs/isolation.md).' },
  { key: 'idle_timeout', kind: 'integer', default: 0, min: 0, unit: 'seconds', doc: 'Seconds without a request before an instance is put to sleep; 0 = never.' },
  { key: 'startup_timeout', kind: 'integer', default: 10, min: 1, unit: 'seconds', doc: 'Seconds a new instance has to become healthy.' },
  { key: 'request_timeout', kind: 'integer', default: 30, min: 1, unit: 'seconds', doc: 'Seconds a proxied request may take.' },
  { key: 'restart', kind: 'enum', default: 'on-failure', values: ['always', 'on-failure', 'never'], doc: 'When an exited instance is started again.' },
  { key: 'tenant_spawn', kind: 'boolean', default: false, doc: 'Tenant tokens may spawn and stop instances of this service with their own id; otherwise only an admin token can.' },
  { key: 'storage_persist', kind: 'boolean', default: true, doc: 'Keep the instance data folder when the instance is stopped.' },
  {
    key: 'memory_limit_mb',
    kind: 'integer',
    min: 1,
    unit: 'MB',
    doc: 'Memory + swap limit per instance (cgroup); an instance over it is OOM-killed (`oom-killed`) and restarted per its policy. A spawn fails when it cannot be applied.',
  },
  {
    key: 'cpu_shares',
    kind: 'integer',
    min: 1,
    max: 10000,
    doc: 'CPU weight per instance (cgroup v2 cpu.weight, 100 = default; v1 cpu.shares = weight x 10.24). A spawn fails when it cannot be applied.',
  },
  { key: 'pids_limit', kind: 'integer', default: 512, min: 1, doc: 'Most processes + threads an instance may have (cgroup pids.max).' },
  {
    key: 'storage_quota_mb',
    kind: 'integer',
    min: 1,
    unit: 'MB',
    doc: 'Data folder quota: measured every 30 s and reported (storage_used_bytes, metrics, a warning when over); not a hard limit.',
  },
];

export type RoutingKey = 'default' | 'subdomain' | 'path';

export const ROUTING_SCHEMA: readonly KeySpec<RoutingKey>[] = [
  { key: 'default', kind: 'string', doc: 'Service served on the root domain instead of the management API.' },
  { key: 'subdomain', kind: 'string-table', doc: 'Extra subdomain label -> service, e.g. admin = "admin-svc".' },
  { key: 'path', kind: 'string-table', doc: 'Path prefix on the root domain -> service, e.g. "/api" = "api-svc".' },
];

export type TopLevelKey = 'settings' | 'service' | 'instances' | 'routing';

export const TOP_LEVEL_TABLES: readonly { readonly key: TopLevelKey; readonly doc: string }[] = [
  { key: 'settings', doc: 'Server-wide settings.' },
  { key: 'service', doc: 'One [service.NAME] table per kind of process; NAME is a DNS label.' },
  { key: 'instances', doc: 'SERVICE = ["id", ...]: instances started with the server; ids are DNS labels.' },
  { key: 'routing', doc: 'Root-domain, extra-subdomain and path routes to services.' },
];

/** What a value of this key must look like, phrased to follow "expected". */
export function describeExpected(spec: KeySpec): string {
  switch (spec.kind) {
    case 'integer': {
      let text = spec.unit ? `a whole number of ${spec.unit}` : 'a whole number';
      if (spec.min !== undefined && spec.max !== undefined) text += ` from ${spec.min} to ${spec.max}`;
      else if (spec.min !== undefined) text += ` >= ${spec.min}`;
      else if (spec.max !== undefined) text += ` <= ${spec.max}`;
      return text;
    }
    case 'string':
      return spec.required ? 'a non-empty string' : 'a string';
    case 'path':
      return 'a path (a non-empty string)';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${(spec.values ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'string-array':
      return 'an array of strings';
    case 'string-table':
      return 'a table of string values';
  }
}

export function findSpec<K extends string>(schema: readonly KeySpec<K>[], key: string): KeySpec<K> | undefined {
  return schema.find((s) => s.key === key);
}

export function schemaKeys(schema: readonly KeySpec[]): string[] {
  return schema.map((s) => s.key);
}
