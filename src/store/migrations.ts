// The schema history of tenement.db. The version lives in `PRAGMA user_version`; each migration
// moves the database from version-1 to version, in its own transaction, so a failure leaves the
// database at the last good version. Never edit a migration that has shipped: append a new one.
//
// Conventions for new migrations:
// - only additive changes where possible (ADD COLUMN, CREATE INDEX, new tables), so a rollback to
//   the pre-upgrade backup is the only downgrade path anyone needs;
// - a table rebuild (SQLite cannot ALTER constraints) sets `foreignKeysOff` and follows the
//   "12-step" recipe of https://sqlite.org/lang_altertable.html#otheralter;
// - no CHECK/enum change without a rebuild: the CHECKs below are what keeps garbage out of the
//   store, since the TypeScript types stop at the process boundary.
import type Database from 'better-sqlite3';
import { detachOriginalTables, importOriginalLogs } from './original-schema.js';

export interface Migration {
  /** The user_version after this migration. Versions are 1, 2, 3, ... without gaps. */
  version: number;
  /** One line, shown in errors and logs. */
  description: string;
  /** SQL script, or a function for steps SQL alone cannot express. Runs inside the transaction. */
  up: string | ((db: Database.Database) => void);
  /** Turn foreign keys off around this step (table rebuilds); violations are checked before commit. */
  foreignKeysOff?: boolean;
}

const V1_SCHEMA = `
CREATE TABLE instances (
  service          TEXT    NOT NULL,
  id               TEXT    NOT NULL,
  port             INTEGER NOT NULL UNIQUE CHECK (port BETWEEN 1 AND 65535),
  pid              INTEGER CHECK (pid IS NULL OR pid > 0),
  pid_start_time   TEXT,
  desired          TEXT    NOT NULL CHECK (desired IN ('running', 'asleep', 'stopped')),
  observed         TEXT    NOT NULL CHECK (observed IN ('starting', 'running', 'stopping', 'stopped', 'asleep', 'backoff', 'failed')),
  health           TEXT    NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'degraded', 'unhealthy', 'failed')),
  weight           INTEGER NOT NULL DEFAULT 100 CHECK (weight BETWEEN 0 AND 100),
  health_failures  INTEGER NOT NULL DEFAULT 0 CHECK (health_failures >= 0),
  restart_count    INTEGER NOT NULL DEFAULT 0 CHECK (restart_count >= 0),
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  last_activity_at INTEGER,
  last_error       TEXT,
  last_exit        TEXT,
  PRIMARY KEY (service, id)
);

-- Restart history drives the max_restarts-per-window decision; it goes with its instance.
CREATE TABLE restarts (
  seq     INTEGER PRIMARY KEY,
  service TEXT    NOT NULL,
  id      TEXT    NOT NULL,
  at      INTEGER NOT NULL,
  reason  TEXT    NOT NULL,
  FOREIGN KEY (service, id) REFERENCES instances (service, id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX restarts_by_instance ON restarts (service, id, at);

-- tenant NULL = admin token. Only hashes are stored; the hash is the lookup key, so it must be a
-- deterministic hash of a high-entropy token (not a salted password hash).
CREATE TABLE tokens (
  id           TEXT    PRIMARY KEY,
  tenant       TEXT,
  hash         TEXT    NOT NULL UNIQUE,
  label        TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX tokens_by_tenant ON tokens (tenant);

-- AUTOINCREMENT: ids are never reused, so "entries after id N" stays meaningful after pruning.
CREATE TABLE audit (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  target TEXT    NOT NULL,
  detail TEXT
);

-- AUTOINCREMENT for the same reason: followers (ten logs -f) resume from the last id they saw.
CREATE TABLE logs (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  service  TEXT    NOT NULL,
  instance TEXT    NOT NULL,
  stream   TEXT    NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  level    TEXT    NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  at       INTEGER NOT NULL,
  text     TEXT    NOT NULL
);
CREATE INDEX logs_by_at ON logs (at);
CREATE INDEX logs_by_instance ON logs (service, instance, at);

-- External content: the text is stored once (in logs); the index holds only tokens.
CREATE VIRTUAL TABLE logs_fts USING fts5 (text, content = 'logs', content_rowid = 'id');

-- Running totals so count() and size-based retention do not scan millions of rows.
CREATE TABLE log_stats (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  lines INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO log_stats (id, lines, bytes) VALUES (1, 0, 0);

CREATE TRIGGER logs_after_insert AFTER INSERT ON logs BEGIN
  INSERT INTO logs_fts (rowid, text) VALUES (new.id, new.text);
  UPDATE log_stats SET lines = lines + 1, bytes = bytes + length(CAST(new.text AS BLOB)) WHERE id = 1;
END;
CREATE TRIGGER logs_after_delete AFTER DELETE ON logs BEGIN
  INSERT INTO logs_fts (logs_fts, rowid, text) VALUES ('delete', old.id, old.text);
  UPDATE log_stats SET lines = lines - 1, bytes = bytes - length(CAST(old.text AS BLOB)) WHERE id = 1;
END;
CREATE TRIGGER logs_after_update AFTER UPDATE OF text ON logs BEGIN
  INSERT INTO logs_fts (logs_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO logs_fts (rowid, text) VALUES (new.id, new.text);
  UPDATE log_stats SET bytes = bytes - length(CAST(old.text AS BLOB)) + length(CAST(new.text AS BLOB)) WHERE id = 1;
END;

-- How far each captured log file has been indexed, so a restarted controller resumes there.
CREATE TABLE log_offsets (
  file        TEXT    PRIMARY KEY,
  byte_offset INTEGER NOT NULL CHECK (byte_offset >= 0),
  updated_at  INTEGER NOT NULL
);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema (adopts the original tenement database if present)',
    up: (db) => {
      const original = detachOriginalTables(db);
      db.exec(V1_SCHEMA);
      if (original.logs) importOriginalLogs(db);
    },
  },
  {
    version: 2,
    description: 'instances.config_hash; audit indexes by time and target',
    up: `
      -- Hash of the service definition an instance was started with: lets a reload find the
      -- instances whose template changed and roll them.
      ALTER TABLE instances ADD COLUMN config_hash TEXT;
      CREATE INDEX audit_by_at ON audit (at);
      CREATE INDEX audit_by_target ON audit (target, at);
    `,
  },
  {
    version: 3,
    description: 'logs index by instance id (a tenant scoped log search reads only its own rows)',
    up: `
      CREATE INDEX logs_by_tenant ON logs (instance, at, id);
    `,
  },
];

/** Checks the list is 1..N without gaps or repeats; a broken list is a programming error. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration list is broken: entry ${i} ("${m.description}") has version ${m.version}, expected ${i + 1}`);
    }
  });
}

checkMigrationList(MIGRATIONS);

/** The schema version this build writes and understands. */
export const CURRENT_SCHEMA_VERSION: number = MIGRATIONS.length;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export interface RunMigrationsOptions {
  /** Stop at this version (tests build old databases with it). Default: the newest. */
  to?: number;
  /** Recorded in meta.schema_written_by. */
  appVersion?: string;
  /** Default: MIGRATIONS. */
  migrations?: readonly Migration[];
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Applies the pending migrations, each in its own BEGIN IMMEDIATE transaction. The version is
 * re-read inside each transaction, so two processes migrating at once do not apply a step twice.
 */
export function runMigrations(db: Database.Database, opts: RunMigrationsOptions = {}): MigrationResult {
  const migrations = opts.migrations ?? MIGRATIONS;
  checkMigrationList(migrations);
  const target = opts.to ?? migrations.length;
  if (!Number.isInteger(target) || target < 0 || target > migrations.length) {
    throw new Error(`cannot migrate to schema version ${target}: known versions are 1..${migrations.length}`);
  }
  const from = schemaVersion(db);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= from || m.version > target) continue;
    if (applyOne(db, m, opts.appVersion ?? 'unknown')) applied.push(m.version);
  }
  return { from, to: schemaVersion(db), applied };
}

function applyOne(db: Database.Database, m: Migration, appVersion: string): boolean {
  // foreign_keys cannot change inside a transaction, so it is switched around it.
  const fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
  if (m.foreignKeysOff && fkWasOn) db.pragma('foreign_keys = OFF');
  try {
    const step = db.transaction((): boolean => {
      const current = schemaVersion(db);
      if (current >= m.version) return false; // another process got here first
      if (current !== m.version - 1) {
        throw new Error(`database is at schema version ${current}, cannot apply migration ${m.version}`);
      }
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      if (m.foreignKeysOff) {
        const violations = db.prepare('PRAGMA foreign_key_check').all();
        if (violations.length > 0) throw new Error(`${violations.length} foreign key violations, e.g. ${JSON.stringify(violations[0])}`);
      }
      db.pragma(`user_version = ${m.version}`);
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema_written_by', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(appVersion);
      return true;
    });
    return step.immediate();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MigrationError(m, reason, { cause: err });
  } finally {
    if (m.foreignKeysOff && fkWasOn) db.pragma('foreign_keys = ON');
  }
}

export class MigrationError extends Error {
  readonly version: number;
  constructor(m: Migration, reason: string, options?: ErrorOptions) {
    super(`migration to schema version ${m.version} (${m.description}) failed and was rolled back, the database is unchanged by it: ${reason}`, options);
    this.name = 'MigrationError';
    this.version = m.version;
  }
}
