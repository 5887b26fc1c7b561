// Store records -> the JSON shapes of contract.ts.
import type { AuditEntry } from '../store/audit-store.js';
import type { InstanceRecord, LogLine, TokenRecord } from '../store/types.js';
import type { AuditJson, ControlPlane, InstanceJson, InstanceResources, LogJson, TokenJson } from './contract.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function instanceJson(r: InstanceRecord, control: ControlPlane, now: number): InstanceJson {
  const running = r.observed === 'running' && r.startedAt !== null;
  return {
    id: `${r.service}:${r.id}`,
    process: r.service,
    instance_id: r.id,
    port: r.port,
    socket: `127.0.0.1:${r.port}`,
    pid: r.pid,
    state: r.observed,
    desired: r.desired,
    health: r.health,
    weight: r.weight,
    restarts: r.restartCount,
    uptime_secs: running ? Math.max(0, Math.floor((now - r.startedAt!) / 1000)) : null,
    idle_secs: r.lastActivityAt !== null ? Math.max(0, Math.floor((now - r.lastActivityAt) / 1000)) : null,
    started_at: iso(r.startedAt),
    last_activity: iso(r.lastActivityAt),
    last_error: r.lastError,
    last_exit: r.lastExit,
    url: control.url(r),
    ...storageFields(control.storage?.(r) ?? null),
    ...resourceFields(control.resources?.(r)),
  };
}

function resourceFields(res: InstanceResources | undefined): Pick<InstanceJson, 'memory_used_bytes' | 'memory_limit_bytes' | 'cpu_time_secs' | 'cpu_shares'> {
  return {
    memory_used_bytes: res?.memoryUsedBytes ?? null,
    memory_limit_bytes: res?.memoryLimitBytes ?? null,
    cpu_time_secs: res?.cpuTimeSecs === null || res?.cpuTimeSecs === undefined ? null : Math.round(res.cpuTimeSecs * 100) / 100,
    cpu_shares: res?.cpuShares ?? null,
  };
}

function storageFields(usage: { used_bytes: number; quota_bytes: number | null } | null): Pick<InstanceJson, 'storage_used_bytes' | 'storage_quota_bytes'> {
  return { storage_used_bytes: usage?.used_bytes ?? null, storage_quota_bytes: usage?.quota_bytes ?? null };
}

export function logJson(l: LogLine): LogJson {
  return {
    id: l.id,
    timestamp: l.at,
    time: new Date(l.at).toISOString(),
    process: l.service,
    instance_id: l.instance,
    level: l.stream,
    stream: l.stream,
    severity: l.level,
    message: l.text,
  };
}

export function tokenJson(t: TokenRecord): TokenJson {
  return {
    id: t.id,
    tenant: t.tenant,
    label: t.label,
    created_at: new Date(t.createdAt).toISOString(),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
  };
}

export function auditJson(e: AuditEntry): AuditJson {
  return { id: e.id, at: new Date(e.at).toISOString(), actor: e.actor, action: e.action, target: e.target, detail: e.detail };
}
