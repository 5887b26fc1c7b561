// The original (Rust) tenement kept `{data_dir}/tenement.db` too, at user_version 0 and with a
// different shape: `logs(id, timestamp TEXT, level 'stdout'|'stderr', process, instance_id,
// message)` + an FTS5 index `logs_fts(message)` + `config(key, value)` holding the Argon2 hash of the
// admin token under `api_token_hash`, and (v0.2) `instance_state`, `tenant_tokens` and `deploy_log`.
// Users switching over keep their data_dir, so schema v1 must adopt such a database instead of
// colliding with its table names; the v0.2 tables are imported by a later migration
// (original-import.ts). Anything else found at user_version 0 is not ours and is refused.
import type Database from 'better-sqlite3';

/** Where the original's `config` rows are kept after adoption (the auth layer may import the token hash). */
export const ORIGINAL_CONFIG_TABLE = 'original_config';

const ORIGINAL_LOGS_TABLE = 'original_logs';

// The original's FTS table and its shadow tables (external content, so no _content table is made,
// but accept one in case an older build used internal content).
const ORIGINAL_FTS_TABLES = ['logs_fts', 'logs_fts_data', 'logs_fts_idx', 'logs_fts_docsize', 'logs_fts_config', 'logs_fts_content'];
const ORIGINAL_LOG_COLUMNS = ['id', 'timestamp', 'level', 'process', 'instance_id', 'message'];
const ORIGINAL_CONFIG_COLUMNS = ['key', 'value'];
/** Tables of v0.2.x that v1 leaves in place (no name collides with ours) for original-import.ts. */
export const ORIGINAL_V02_TABLES = ['instance_state', 'tenant_tokens', 'deploy_log'];

/** Names of the tables in the main schema, without SQLite's internal ones. */
export function userTables(db: Database.Database): string[] {
  return db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
    .all()
    .map((r) => r.name);
}

function columns(db: Database.Database, table: string): string[] {
  return db
    .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid')
    .all(table)
    .map((r) => r.name);
}

function hasColumns(db: Database.Database, table: string, wanted: string[]): boolean {
  const have = new Set(columns(db, table));
  return wanted.every((c) => have.has(c));
}

/** True if the database holds the original tenement's tables and nothing else. */
export function isOriginalTenementDb(db: Database.Database): boolean {
  const tables = userTables(db);
  if (!tables.includes('logs') && !tables.includes('config')) return false;
  const allowed = new Set(['logs', 'config', ...ORIGINAL_FTS_TABLES, ...ORIGINAL_V02_TABLES]);
  if (!tables.every((t) => allowed.has(t))) return false;
  if (tables.includes('logs') && !hasColumns(db, 'logs', ORIGINAL_LOG_COLUMNS)) return false;
  if (tables.includes('config') && !hasColumns(db, 'config', ORIGINAL_CONFIG_COLUMNS)) return false;
  return true;
}

/**
 * Moves the original's tables out of the way of schema v1 (run inside the v1 transaction, so a
 * failure leaves the original database untouched). Returns whether there are logs to import.
 */
export function detachOriginalTables(db: Database.Database): { logs: boolean } {
  const tables = new Set(userTables(db));
  // Triggers and indexes first: their names (logs_ai, idx_logs_*) would otherwise travel with the
  // renamed table and could collide with ours, and the triggers reference logs_fts.
  for (const trigger of ['logs_ai', 'logs_ad', 'logs_au']) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
  for (const index of ['idx_logs_process', 'idx_logs_instance', 'idx_logs_timestamp']) db.exec(`DROP INDEX IF EXISTS ${index}`);
  if (tables.has('logs_fts')) db.exec('DROP TABLE logs_fts');
  if (tables.has('logs')) db.exec(`ALTER TABLE logs RENAME TO ${ORIGINAL_LOGS_TABLE}`);
  if (tables.has('config')) db.exec(`ALTER TABLE config RENAME TO ${ORIGINAL_CONFIG_TABLE}`);
  return { logs: tables.has('logs') };
}

/**
 * Copies the original's log lines into the v1 `logs` table (the FTS triggers index them) and drops
 * the old table; the pre-upgrade backup still has it verbatim. The original recorded only the
 * stream (it called it "level"), so every imported line gets level 'info'. Its timestamps are
 * RFC 3339 text; unparsable ones become 0 rather than failing the whole upgrade.
 */
export function importOriginalLogs(db: Database.Database): number {
  const result = db
    .prepare(
      `INSERT INTO logs (service, instance, stream, level, at, text)
       SELECT process, instance_id,
              CASE level WHEN 'stderr' THEN 'stderr' ELSE 'stdout' END,
              'info',
              coalesce(CAST(round((julianday(timestamp) - 2440587.5) * 86400000.0) AS INTEGER), 0),
              coalesce(message, '')
       FROM ${ORIGINAL_LOGS_TABLE} ORDER BY id`,
    )
    .run();
  db.exec(`DROP TABLE ${ORIGINAL_LOGS_TABLE}`);
  return result.changes;
}
