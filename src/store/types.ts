// Rows of the state database, as the rest of tenement sees them.

/** What the operator asked for. */
export type DesiredState = 'running' | 'asleep' | 'stopped';

/** What the supervisor last saw. */
export type ObservedState = 'starting' | 'running' | 'stopping' | 'stopped' | 'asleep' | 'backoff' | 'failed';

export type HealthState = 'unknown' | 'healthy' | 'degraded' | 'unhealthy' | 'failed';

export interface InstanceRecord {
  service: string;
  id: string;
  /** Allocated once, kept across restarts and wakes so the Caddy route never changes. */
  port: number;
  pid: number | null;
  /** Process start time from /proc/<pid>/stat (clock ticks since boot), so a reused pid is not mistaken for ours. */
  pidStartTime: string | null;
  desired: DesiredState;
  observed: ObservedState;
  health: HealthState;
  /** 0-100; 0 = running but takes no traffic on the service route. */
  weight: number;
  /** Consecutive failed health checks. */
  healthFailures: number;
  /** Total restarts over the instance's life (restart history is in its own table). */
  restartCount: number;
  /** Epoch milliseconds. */
  createdAt: number;
  startedAt: number | null;
  lastActivityAt: number | null;
  /** Human-readable reason of the last failure (spawn error, exit status, health). */
  lastError: string | null;
  /** Exit code or signal of the last exit, e.g. "code 1" or "signal SIGKILL". */
  lastExit: string | null;
  /**
   * Hash of the service definition the instance was started with (schema v2), so instances whose
   * template changed can be found and rolled. Optional: absent = unknown.
   */
  configHash?: string | null;
}

export interface RestartEvent {
  service: string;
  id: string;
  at: number;
  reason: string;
}

export interface AuditEvent {
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

export interface TokenRecord {
  id: string;
  /** null = admin token. */
  tenant: string | null;
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  label: string | null;
}

export interface LogLine {
  id: number;
  service: string;
  instance: string;
  stream: 'stdout' | 'stderr';
  level: 'debug' | 'info' | 'warn' | 'error';
  at: number;
  text: string;
}
