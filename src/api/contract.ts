// The REST API's wire shapes (shared by the server and the `ten` client) and the operations the
// API needs from the rest of the controller. The API module depends on this interface only, never
// on how the controller implements it.
import type { InstanceRecord } from '../store/types.js';
import type { InstanceKey } from '../util/instance-key.js';
import { DomainError } from '../util/domain-error.js';

/** One instance as the API returns it. Field names keep the original's (`process`, `id` = "svc:id"). */
export interface InstanceJson {
  /** "service:id", the original's instance name. */
  id: string;
  /** Service name (the original called services "processes"). */
  process: string;
  /** The instance id alone. */
  instance_id: string;
  port: number;
  /** Where the instance listens, "127.0.0.1:PORT" (the original's name: it began with unix sockets). */
  socket: string;
  pid: number | null;
  /** observed state: starting | running | stopping | stopped | asleep | backoff | failed */
  state: string;
  desired: string;
  health: string;
  weight: number;
  restarts: number;
  uptime_secs: number | null;
  idle_secs: number | null;
  started_at: string | null;
  last_activity: string | null;
  last_error: string | null;
  last_exit: string | null;
  /** Direct URL through Caddy, e.g. http://alice.notes.localhost:8000 */
  url: string | null;
  /** Size of its data folder at the last measurement (every 30 s); null before the first. */
  storage_used_bytes: number | null;
  /** storage_quota_mb in bytes; null without a quota. */
  storage_quota_bytes: number | null;
  /** Memory its cgroup uses now (read on request); null unless running and measurable on this host. */
  memory_used_bytes: number | null;
  /** memory_limit_mb in bytes (memory and swap together); null without a limit. */
  memory_limit_bytes: number | null;
  /**
   * CPU time its processes have used in this run, in seconds (read on request); null unless running
   * and measurable. A rate (share of a core) is the difference of two readings over their interval.
   */
  cpu_time_secs: number | null;
  /** cpu_shares: its CPU weight (1-10000, 100 = default; it matters only when the CPU is contended); null = default. */
  cpu_shares: number | null;
}

/** GET /api/instances/:instance/storage (the original's StorageInfo, plus what it derived). */
export interface StorageJson {
  instance: string;
  used_bytes: number;
  quota_bytes: number | null;
  path: string;
  usage_percent: number | null;
  over_quota: boolean;
  measured_at: string;
}

export interface SpawnBody {
  process: string;
  id: string;
}
export interface WeightBody {
  weight: number;
}
export interface DeployBody {
  process: string;
  version: string;
  weight?: number;
  /** Seconds to wait for health. */
  timeout?: number;
}
export interface RouteBody {
  process: string;
  from: string;
  to: string;
}

export interface ErrorJson {
  error: string;
}

/** State of one part of the controller, for GET /health. */
export interface PartHealth {
  ok: boolean;
  detail?: string;
}

export interface ControllerHealth {
  /** ok: everything works; degraded: serving, but a part needs attention (e.g. invalid config edit); down: cannot serve. */
  status: 'ok' | 'degraded' | 'down';
  version: string;
  uptime_seconds: number;
  parts: Record<string, PartHealth>;
}

export interface DeployResult {
  instance: InstanceRecord;
  /** Routes pushed to Caddy for the change (1 when it happened in one change). */
  route_changes: number;
}

/** What the API asks of the controller. Every method validates its own inputs' existence. */
export interface ControlPlane {
  list(filter?: { service?: string; id?: string }): InstanceRecord[];
  get(key: InstanceKey): InstanceRecord | undefined;
  spawn(key: InstanceKey): Promise<InstanceRecord>;
  /** Stop and forget (the original's DELETE). */
  stop(key: InstanceKey): Promise<void>;
  restart(key: InstanceKey): Promise<InstanceRecord>;
  setWeight(key: InstanceKey, weight: number): Promise<InstanceRecord>;
  /** Spawn `service:version`, wait for health within timeoutSec, then give it `weight` in one route change. */
  deploy(service: string, version: string, weight: number, timeoutSec: number): Promise<DeployResult>;
  /** from -> weight 0, to -> weight 100, in one route change. */
  route(service: string, from: string, to: string): Promise<{ from: InstanceRecord; to: InstanceRecord }>;
  /** A fresh health probe of the instance (does not change its state). */
  probe(key: InstanceKey): Promise<{ ok: boolean; detail: string }>;
  health(): ControllerHealth;
  /** Public URL of an instance through Caddy, if known. */
  url(record: InstanceRecord): string | null;
  /** Names of the services defined in the config. */
  services(): string[];
}

// ---- Added with the management API (issue 4). Additive only: nothing above changed. ----------

/**
 * An error a ControlPlane method may throw to say what kind of failure it was, when no domain
 * error says it already. Every DomainError (this one included) becomes the status its kind maps
 * to in errors.ts (not_found 404, conflict 409, invalid 422, unavailable 503, timeout 504, ...);
 * any other error is a 500.
 */
export class ControlPlaneError extends DomainError<'not_found' | 'conflict' | 'invalid' | 'unavailable' | 'timeout'> {
  constructor(kind: 'not_found' | 'conflict' | 'invalid' | 'unavailable' | 'timeout', message: string, options?: ErrorOptions) {
    super(kind, message, options);
    this.name = 'ControlPlaneError';
  }
}

/** POST /api/instances/spawn and POST /api/instances/:instance/restart. `instance` and `port` are the original's fields. */
export interface SpawnResponse extends InstanceJson {
  /** "service:id". */
  instance: string;
}

/** PUT /api/instances/:instance/weight. */
export interface WeightResponse {
  instance: string;
  weight: number;
}

/** GET /api/instances/:instance/health: `instance` and `health` are the original's; `ok`/`detail` come from a fresh probe. */
export interface InstanceHealthResponse {
  instance: string;
  /** The supervisor's health state (unknown | healthy | degraded | unhealthy | failed). */
  health: string;
  state: string;
  ok: boolean;
  detail: string;
}

/** POST /api/deploy. */
export interface DeployResponse {
  instance: string;
  weight: number;
  status: 'healthy';
  port: number;
  route_changes: number;
}

/** POST /api/route. */
export interface RouteResponse {
  from_instance: string;
  to_instance: string;
  from_weight: number;
  to_weight: number;
}

/** One log line. `process`, `instance_id`, `message`, `timestamp` are the original's names. */
export interface LogJson {
  /** Grows with time; SSE events carry it as their id (Last-Event-ID resumes after it). */
  id: number;
  /** Milliseconds since the epoch, as the original sent it. */
  timestamp: number;
  /** RFC 3339 form of `timestamp`. */
  time: string;
  process: string;
  instance_id: string;
  /** The stream, as the original called it: stdout | stderr. */
  level: 'stdout' | 'stderr';
  /** Same as `level`. */
  stream: 'stdout' | 'stderr';
  /** Detected from the line: debug | info | warn | error. */
  severity: string;
  message: string;
}

/** SSE `missed` event data: lines a slow reader did not get (readable later with GET /api/logs). */
export interface MissedJson {
  /** null when the count is unknown (a resume replay longer than the server replays). */
  missed: number | null;
  from_id: number;
  to_id: number;
  reason: string;
}

export interface TokenJson {
  id: string;
  /** null = admin token. */
  tenant: string | null;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** POST /api/tokens body. */
export interface CreateTokenBody {
  tenant: string;
  label?: string;
}

/** POST /api/tokens response: the secret appears here once and is never retrievable again. */
export interface CreatedTokenJson extends TokenJson {
  token: string;
}

export interface AuditJson {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

// ---- Added with live config reload (issue 5). Additive only: nothing above changed. -----------

/** One instance of a service, as GET /api/services/:service describes it for a roll. */
export interface ServiceInstanceJson {
  /** "service:id". */
  instance: string;
  state: string;
  desired: string;
  health: string;
  weight: number;
  /** Hash of the definition the instance was last started with; null = unknown (started before hashes were kept). */
  config_hash: string | null;
  /** True when config_hash equals the service's current hash. */
  current: boolean;
  /** What `ten roll` does with it: restart it, leave it (see `reason`), or nothing (already current). */
  roll: 'restart' | 'skip' | 'none';
  reason: string | null;
}

/** GET /api/services/:service (admin only). */
export interface ServiceJson {
  service: string;
  /** Hash of the service's definition in the running config. */
  config_hash: string;
  instances: ServiceInstanceJson[];
  /** Instances not running the current definition (whatever `roll` does with them). */
  stale: number;
}

/** POST /api/services/:service/roll (admin only): what was restarted, in order. */
export interface RollResponse {
  service: string;
  config_hash: string;
  restarted: string[];
  /** Already on the current definition. */
  up_to_date: string[];
  /** Not restarted, with why (asleep: starts with the new definition on wake; failed; ...). */
  skipped: Array<{ instance: string; reason: string }>;
}

/** What a roll does with one instance: restart it, leave it (with a reason), or nothing (current). */
export type RollAction = 'restart' | 'skip' | 'none';

/** A service's instances as a roll sees them (the API shapes it as ServiceJson). */
export interface ServiceRollPlan {
  service: string;
  /** Hash of the service's definition in the running config. */
  hash: string;
  instances: Array<{ record: InstanceRecord; current: boolean; roll: RollAction; reason: string | null }>;
}

/** What a roll did (the API shapes it as RollResponse). */
export interface RollOutcome {
  service: string;
  hash: string;
  restarted: string[];
  upToDate: string[];
  skipped: Array<{ instance: string; reason: string }>;
}

/**
 * Rolling a service's instances onto its current definition. A ControlPlane that does not offer it
 * leaves these out and the API answers 503.
 */
export interface ServiceRoller {
  describeService(service: string): ServiceRollPlan;
  /** Restarts stale instances one at a time, each until healthy; throws on the first failure. */
  rollService(service: string): Promise<RollOutcome>;
}

// Merged into ControlPlane above: optional, so existing implementations stay valid.
export interface ControlPlane {
  describeService?(service: string): ServiceRollPlan;
  rollService?(service: string): Promise<RollOutcome>;
}

/** GET /api/tls/status, the original's shape (+ `mode`, which says who terminates TLS). */
export interface TlsStatusJson {
  enabled: boolean;
  domain: string | null;
  staging: boolean;
  https_port: number;
  http_port: number;
  recommendation: string | null;
  /** managed: the Caddy tenement runs serves HTTPS; external: your Caddy does; off: no HTTPS here. */
  mode: 'managed' | 'external' | 'off';
}

/** GET /api/telemetry: one snapshot of what the dashboard and monitors poll. */
export interface TelemetryJson {
  version: string;
  status: ControllerHealth['status'];
  uptime_secs: number;
  instances: {
    total: number;
    /** Count per observed state (running, asleep, stopped, ...). */
    by_state: Record<string, number>;
    /** Count per health (healthy, degraded, unhealthy, unknown, failed). */
    by_health: Record<string, number>;
    restarts: number;
  };
  services: number;
  /** Whether per-request counts are kept (`request_metrics = true`; see GET /api/history). */
  request_metrics: boolean;
}

// ---- Added with isolation and limits (issue 8). Optional, so existing implementations stay valid.
export interface ControlPlane {
  /** The last storage measurement of an instance (cheap: no tree walk). */
  storage?(key: InstanceKey): Omit<StorageJson, 'instance'> | null;
  /** Measures now (for the first request, before the background pass got to it). */
  measureStorage?(key: InstanceKey): Promise<Omit<StorageJson, 'instance'>>;
}

// ---- Added with the dashboard (issue 12). Additive only: nothing above changed. ---------------

// Merged into ControlPlane above: optional, so existing implementations stay valid.
export interface ControlPlane {
  /** Starts an asleep (or backoff) instance now, as a request to it would; a running one is returned as is. */
  wake?(key: InstanceKey): Promise<InstanceRecord>;
}

/** GET /api/whoami: what the token in use may reach (the dashboard shows admin pages only to admins). */
export interface WhoAmIJson {
  token_id: string;
  /** null = admin token. */
  tenant: string | null;
  admin: boolean;
}

// ---- Added with the dashboard's resource columns (issue 12). Optional: existing implementations stay valid.

/** An instance's limits from the config and what it uses now (null = not known). */
export interface InstanceResources {
  memoryUsedBytes: number | null;
  memoryLimitBytes: number | null;
  cpuTimeSecs: number | null;
  cpuShares: number | null;
}

// Merged into ControlPlane above.
export interface ControlPlane {
  /**
   * Limits from the config; usage only for a running instance, read from its cgroup on request (a
   * few small files): nothing is polled, and sleeping instances cost nothing.
   */
  resources?(record: InstanceRecord): InstanceResources;
}
