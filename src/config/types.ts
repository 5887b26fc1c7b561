// The validated, defaults-filled configuration that the rest of tenement consumes.
// Everything downstream of `loadConfig` reads these types, never raw TOML.

export type Isolation = 'process';
export type RestartPolicy = 'always' | 'on-failure' | 'never';

export interface Settings {
  /** Absolute path (relative paths in the file are resolved against the config file's folder). */
  data_dir: string;
  /** Seconds between health checks of one instance. */
  health_check_interval: number;
  /** Restarts allowed within `restart_window` before an instance is marked failed. */
  max_restarts: number;
  /** Seconds. */
  restart_window: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
  /** Inclusive port range instances are allocated from. */
  port_range_start: number;
  port_range_end: number;
  /** Seconds between SIGTERM and SIGKILL when stopping an instance. */
  stop_timeout: number;
  /** Log retention: lines older than this many days are deleted. */
  log_retention_days: number;
  /** Log retention: the log table is trimmed (oldest first) to stay under this size. */
  log_retention_mb: number;
  /** Captured stdout/stderr files are emptied once indexed and this big. */
  log_file_max_mb: number;
  /** Captured files not written for this long are emptied; 0 = never. */
  log_file_max_age_days: number;
  /** /health's disk part is not ok below this much free space. */
  disk_min_free_mb: number;
  /** Peers (IP addresses) whose X-Forwarded-For is believed when charging failed logins. */
  trusted_proxies: string[];
  /** When set, GET /metrics requires it as a bearer token. */
  metrics_token: string | undefined;
}

export interface ServiceConfig {
  name: string;
  command: string;
  /** When present, used verbatim as argv[1..] and `command` is not shell-split. */
  args: string[] | undefined;
  /** HTTP path of the health check; absent means a TCP connect check. */
  health: string | undefined;
  env: Record<string, string>;
  /** Absolute working directory (resolved against the config file's folder). */
  workdir: string | undefined;
  isolation: Isolation;
  /** Seconds without a request before the instance is put to sleep; 0 = never. */
  idle_timeout: number;
  /** Seconds an instance has to become healthy after spawn. */
  startup_timeout: number;
  /** Seconds a proxied request may take. */
  request_timeout: number;
  restart: RestartPolicy;
  storage_persist: boolean;
  /** Tenant tokens may spawn and stop instances of this service with their own id. */
  tenant_spawn: boolean;
  /** Accepted, not enforced yet (a warning says so at every start). */
  memory_limit_mb: number | undefined;
  cpu_shares: number | undefined;
  storage_quota_mb: number | undefined;
}

export interface RoutingConfig {
  /** Service served on the root domain instead of the management API. */
  default: string | undefined;
  /** Extra subdomain -> service. */
  subdomain: Record<string, string>;
  /** Path prefix (on the root domain) -> service. */
  path: Record<string, string>;
}

export interface Config {
  /** Absolute path of the file this config was read from. */
  file: string;
  settings: Settings;
  services: Record<string, ServiceConfig>;
  /** service -> instance ids spawned at start. */
  instances: Record<string, string[]>;
  routing: RoutingConfig;
}

/** A problem found in a config file, located as precisely as the source allows. */
export interface ConfigIssue {
  file: string;
  /** 1-based; undefined when the key does not appear in the file (e.g. a missing required key: then the line of its table). */
  line: number | undefined;
  /** Dotted key path, e.g. `service.api.idle_timeout`. */
  key: string;
  message: string;
}
