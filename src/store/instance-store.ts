// Instances and their restart history. The table is the source of truth across controller
// restarts: the supervisor adopts what it finds here, so every write is immediate (no caching).
import type Database from 'better-sqlite3';
import type { InstanceRecord, RestartEvent } from './types.js';
import { DomainError } from '../util/domain-error.js';

interface InstanceRow {
  service: string;
  id: string;
  port: number;
  pid: number | null;
  pid_start_time: string | null;
  desired: InstanceRecord['desired'];
  observed: InstanceRecord['observed'];
  health: InstanceRecord['health'];
  weight: number;
  health_failures: number;
  restart_count: number;
  created_at: number;
  started_at: number | null;
  last_activity_at: number | null;
  last_error: string | null;
  last_exit: string | null;
  config_hash: string | null;
}

/** The fields of an instance that Caddy's routes depend on. */
export type RouteInput = Pick<InstanceRecord, 'service' | 'id' | 'port' | 'weight'>;

type Field = Exclude<keyof InstanceRecord, 'service' | 'id'>;

/** Fields to change; a field given as undefined is left alone (null clears a nullable one). */
export type InstancePatch = { [K in keyof InstanceRecord]?: InstanceRecord[K] | undefined };

// The only place camelCase meets snake_case. Also the whitelist for update(): patch keys become
// column names in SQL text, so nothing outside this map may get there.
const COLUMN: { readonly [K in Field]-?: string } = {
  port: 'port',
  pid: 'pid',
  pidStartTime: 'pid_start_time',
  desired: 'desired',
  observed: 'observed',
  health: 'health',
  weight: 'weight',
  healthFailures: 'health_failures',
  restartCount: 'restart_count',
  createdAt: 'created_at',
  startedAt: 'started_at',
  lastActivityAt: 'last_activity_at',
  lastError: 'last_error',
  lastExit: 'last_exit',
  configHash: 'config_hash',
};

function fromRow(r: InstanceRow): InstanceRecord {
  return {
    service: r.service,
    id: r.id,
    port: r.port,
    pid: r.pid,
    pidStartTime: r.pid_start_time,
    desired: r.desired,
    observed: r.observed,
    health: r.health,
    weight: r.weight,
    healthFailures: r.health_failures,
    restartCount: r.restart_count,
    createdAt: r.created_at,
    startedAt: r.started_at,
    lastActivityAt: r.last_activity_at,
    lastError: r.last_error,
    lastExit: r.last_exit,
    configHash: r.config_hash,
  };
}

export class DuplicateInstanceError extends DomainError<'duplicate_instance'> {
  constructor(service: string, id: string) {
    super('duplicate_instance', `instance ${service}:${id} already exists`);
    this.name = 'DuplicateInstanceError';
  }
}

export class PortInUseError extends DomainError<'port_in_use'> {
  readonly port: number;
  constructor(port: number, wanted: string, holder: string | undefined) {
    super('port_in_use', `port ${port} cannot be given to ${wanted}: it is already allocated to ${holder ?? 'another instance'}`);
    this.name = 'PortInUseError';
    this.port = port;
  }
}

function sqliteCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export interface InstanceFilter {
  service?: string;
  id?: string;
}

export class InstanceStore {
  private readonly db: Database.Database;
  private readonly updates = new Map<string, Database.Statement<unknown[]>>();
  private readonly stmt;

  /** The connection, for stores of related tables (instance identities) sharing it. */
  get database(): Database.Database {
    return this.db;
  }

  constructor(db: Database.Database) {
    this.db = db;
    const columns = ['service', 'id', ...Object.values(COLUMN)];
    this.stmt = {
      get: db.prepare<[string, string], InstanceRow>('SELECT * FROM instances WHERE service = ? AND id = ?'),
      // Only what routes are built from: a route push at 1,000 instances read whole rows in ~3.5 ms.
      routeInputs: db.prepare<[], RouteInput>('SELECT service, id, port, weight FROM instances ORDER BY service, id'),
      list: db.prepare<{ service: string | null; id: string | null }, InstanceRow>(
        'SELECT * FROM instances WHERE (@service IS NULL OR service = @service) AND (@id IS NULL OR id = @id) ORDER BY service, id',
      ),
      insert: db.prepare<Record<string, unknown>>(`INSERT INTO instances (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`),
      delete: db.prepare<[string, string]>('DELETE FROM instances WHERE service = ? AND id = ?'),
      ports: db.prepare<[], number>('SELECT port FROM instances').pluck(),
      portHolder: db.prepare<[number], { service: string; id: string }>('SELECT service, id FROM instances WHERE port = ?'),
      recordRestart: db.prepare<[string, string, number, string]>('INSERT INTO restarts (service, id, at, reason) VALUES (?, ?, ?, ?)'),
      restartsSince: db.prepare<[string, string, number], number>('SELECT count(*) FROM restarts WHERE service = ? AND id = ? AND at >= ?').pluck(),
      restartHistory: db.prepare<[string, string, number], RestartEvent>(
        'SELECT service, id, at, reason FROM restarts WHERE service = ? AND id = ? ORDER BY at DESC, seq DESC LIMIT ?',
      ),
      pruneRestarts: db.prepare<[number]>('DELETE FROM restarts WHERE at < ?'),
      // max(): activity reports may arrive out of order; the timestamp never goes backwards.
      touch: db.prepare<[number, string, string]>('UPDATE instances SET last_activity_at = max(coalesce(last_activity_at, 0), ?) WHERE service = ? AND id = ?'),
    };
  }

  get(service: string, id: string): InstanceRecord | undefined {
    const row = this.stmt.get.get(service, id);
    return row ? fromRow(row) : undefined;
  }

  /** Sorted by service, then id. */
  list(filter: InstanceFilter = {}): InstanceRecord[] {
    return this.stmt.list.all({ service: filter.service ?? null, id: filter.id ?? null }).map(fromRow);
  }

  /** Every instance's service, id, port and weight (what Caddy's routes are derived from), ordered. */
  routeInputs(): RouteInput[] {
    return this.stmt.routeInputs.all();
  }

  /** Throws DuplicateInstanceError if service:id exists, PortInUseError if the port is taken. */
  insert(record: InstanceRecord): void {
    const params: Record<string, unknown> = { service: record.service, id: record.id };
    for (const [field, column] of Object.entries(COLUMN) as [Field, string][]) params[column] = record[field] ?? null;
    try {
      this.stmt.insert.run(params);
    } catch (err) {
      throw this.translate(err, record.service, record.id, record.port);
    }
  }

  /**
   * Changes the given fields (undefined = leave as is, null = clear). Returns the updated record,
   * or undefined if the instance does not exist (it may have been removed concurrently).
   * service and id are the key and cannot be changed here.
   */
  update(service: string, id: string, patch: InstancePatch): InstanceRecord | undefined {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (key === 'service' || key === 'id') {
        if (value !== (key === 'service' ? service : id)) throw new Error(`cannot change the ${key} of instance ${service}:${id}; remove it and create a new one`);
        continue;
      }
      const column = (COLUMN as Record<string, string | undefined>)[key];
      if (column === undefined) throw new Error(`cannot update instance ${service}:${id}: unknown field "${key}"`);
      sets.push(column);
      values.push(value);
    }
    if (sets.length > 0) {
      const sql = `UPDATE instances SET ${sets.map((c) => `${c} = ?`).join(', ')} WHERE service = ? AND id = ?`;
      let stmt = this.updates.get(sql);
      if (!stmt) {
        stmt = this.db.prepare<unknown[]>(sql);
        this.updates.set(sql, stmt);
      }
      try {
        stmt.run(...values, service, id);
      } catch (err) {
        throw this.translate(err, service, id, typeof patch.port === 'number' ? patch.port : undefined);
      }
    }
    return this.get(service, id);
  }

  /** Removes the instance and its restart history. Returns false if it did not exist. */
  delete(service: string, id: string): boolean {
    return this.stmt.delete.run(service, id).changes > 0;
  }

  /** Every allocated port, including those of stopped and sleeping instances (their routes keep them). */
  usedPorts(): Set<number> {
    return new Set(this.stmt.ports.all());
  }

  /**
   * Appends to the restart history. Does not touch restartCount: the supervisor owns that counter
   * and sets it with update().
   */
  recordRestart(service: string, id: string, reason: string, at: number): void {
    try {
      this.stmt.recordRestart.run(service, id, at, reason);
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new Error(`cannot record a restart of ${service}:${id}: no such instance`, { cause: err });
      throw err;
    }
  }

  /** Restarts at or after `since` (epoch ms): the max_restarts window. */
  restartsSince(service: string, id: string, since: number): number {
    return this.stmt.restartsSince.get(service, id, since) ?? 0;
  }

  /** Newest first. */
  restartHistory(service: string, id: string, limit = 20): RestartEvent[] {
    return this.stmt.restartHistory.all(service, id, limit);
  }

  /** Deletes restart history older than `before` (epoch ms), for every instance. Returns rows removed. */
  pruneRestarts(before: number): number {
    return this.stmt.pruneRestarts.run(before).changes;
  }

  /** Records a request at `at`. Returns false if the instance does not exist. */
  touchActivity(service: string, id: string, at: number): boolean {
    return this.stmt.touch.run(at, service, id).changes > 0;
  }

  private translate(err: unknown, service: string, id: string, port: number | undefined): Error {
    const code = sqliteCode(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return new DuplicateInstanceError(service, id);
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' && message.includes('instances.port') && port !== undefined) {
      const holder = this.stmt.portHolder.get(port);
      return new PortInUseError(port, `${service}:${id}`, holder ? `${holder.service}:${holder.id}` : undefined);
    }
    if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL') {
      return new Error(`invalid value for instance ${service}:${id}: ${message}`, { cause: err });
    }
    return err instanceof Error ? err : new Error(message);
  }
}
