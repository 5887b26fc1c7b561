// Imports what tenement v0.2.x (the Rust original) kept in tenement.db besides its logs, so an
// upgrade loses nothing (schema v1 already imported the logs and set `config` aside):
//   config.api_token_hash  -> an admin token whose Argon2 hash is checked at its first use
//   tenant_tokens          -> tenant tokens, same (Argon2, found by the token's 8-char prefix)
//   deploy_log             -> audit entries (actor "tenement-0.2")
//   instance_state         -> legacy_instances, which the controller turns back into instances at
//                             its next start (it knows the config and the port range; a migration
//                             does not), after stopping any process the old server left behind.
// The Argon2 hashes go to `legacy_tokens`; once a token has been presented and verified, its row
// in `tokens` gets the project's SHA-256 hash and the Argon2 hash is deleted (legacy-tokens.ts).
// Runs inside the migration's transaction; the pre-upgrade backup keeps the original tables verbatim.
import type Database from 'better-sqlite3';
import { ORIGINAL_CONFIG_TABLE, userTables } from './original-schema.js';

/** Who the imported deploy_log entries are attributed to in the audit log. */
export const ORIGINAL_ACTOR = 'tenement-0.2';
/** The hash column of an imported token until its first use: never a SHA-256 hex, so never matched. */
export const PENDING_HASH_PREFIX = 'argon2-pending:';

export const LEGACY_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS legacy_tokens (
  token_id TEXT PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
  prefix   TEXT,
  argon2   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS legacy_tokens_by_prefix ON legacy_tokens (prefix);
CREATE TABLE IF NOT EXISTS legacy_instances (
  service     TEXT    NOT NULL,
  id          TEXT    NOT NULL,
  pid         INTEGER,
  port        INTEGER,
  weight      INTEGER NOT NULL DEFAULT 100,
  imported_at INTEGER NOT NULL,
  PRIMARY KEY (service, id)
);
`;

type Row = Record<string, unknown>;

function columns(db: Database.Database, table: string): Set<string> {
  return new Set(
    db
      .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)')
      .all(table)
      .map((r) => r.name),
  );
}

/** The first of `names` that the table has, so a variant of the original's columns still imports. */
function pick(cols: Set<string>, ...names: string[]): string | undefined {
  return names.find((n) => cols.has(n));
}

function str(row: Row, col: string | undefined): string | null {
  if (col === undefined) return null;
  const v = row[col];
  return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | bigint | boolean);
}

/** RFC 3339 / SQLite datetime text or epoch (s or ms) -> epoch ms; `fallback` when unreadable. */
export function originalTimeToMs(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e12 ? Math.round(value * 1000) : Math.round(value);
  if (typeof value !== 'string' || value.trim() === '') return fallback;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return originalTimeToMs(Number(text), fallback);
  // SQLite's datetime('now') is "YYYY-MM-DD HH:MM:SS" in UTC, without a zone.
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(text) && !/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  // Date.parse accepts at most milliseconds; chrono writes nanoseconds.
  const ms = Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(ms) ? ms : fallback;
}

let tokenSeq = 0;
function importedTokenId(kind: 'admin' | 'tenant', n: number | string): string {
  tokenSeq++;
  return `tok_v02_${kind}_${String(n).replace(/[^A-Za-z0-9_-]/g, '')}_${tokenSeq}`;
}

function insertToken(db: Database.Database, t: { id: string; tenant: string | null; label: string | null; createdAt: number; prefix: string | null; argon2: string }): void {
  db.prepare('INSERT INTO tokens (id, tenant, hash, label, created_at) VALUES (?, ?, ?, ?, ?)').run(t.id, t.tenant, PENDING_HASH_PREFIX + t.id, t.label, t.createdAt);
  db.prepare('INSERT INTO legacy_tokens (token_id, prefix, argon2) VALUES (?, ?, ?)').run(t.id, t.prefix, t.argon2);
}

export interface OriginalImportResult {
  adminToken: boolean;
  tenantTokens: number;
  auditEntries: number;
  instances: number;
}

/** The migration step. Idempotent in effect: each source table is dropped once imported. */
export function importOriginalV02(db: Database.Database, now: number = Date.now()): OriginalImportResult {
  db.exec(LEGACY_TABLES_SQL);
  const tables = new Set(userTables(db));
  const result: OriginalImportResult = { adminToken: false, tenantTokens: 0, auditEntries: 0, instances: 0 };

  // The admin token. `original_config` stays as it is: every key the original kept is kept.
  if (tables.has(ORIGINAL_CONFIG_TABLE)) {
    const hash = db.prepare<[], string>(`SELECT value FROM ${ORIGINAL_CONFIG_TABLE} WHERE key = 'api_token_hash'`).pluck().get();
    const already = db.prepare<[], number>('SELECT count(*) FROM legacy_tokens WHERE prefix IS NULL').pluck().get()! > 0;
    if (hash && hash.startsWith('$argon2') && !already) {
      insertToken(db, {
        id: importedTokenId('admin', 'api'),
        tenant: null,
        label: 'admin token of tenement 0.2 (config.api_token_hash)',
        createdAt: now,
        prefix: null,
        argon2: hash,
      });
      result.adminToken = true;
    }
  }

  if (tables.has('tenant_tokens')) {
    const cols = columns(db, 'tenant_tokens');
    const tenantCol = pick(cols, 'tenant_id', 'tenant');
    const hashCol = pick(cols, 'token_hash', 'hash');
    const prefixCol = pick(cols, 'token_prefix', 'prefix');
    const labelCol = pick(cols, 'description', 'label', 'name');
    const createdCol = pick(cols, 'created_at', 'created');
    const revokedCol = pick(cols, 'revoked', 'revoked_at');
    if (!tenantCol || !hashCol) throw new Error(`tenant_tokens has no tenant or hash column (columns: ${[...cols].join(', ')}); restore the backup and report this`);
    const rows = db.prepare<[], Row>('SELECT rowid AS _rowid, * FROM tenant_tokens ORDER BY rowid').all();
    for (const row of rows) {
      const hash = str(row, hashCol);
      const tenant = str(row, tenantCol);
      if (!hash || !tenant) continue;
      const revoked = revokedCol !== undefined && row[revokedCol] !== null && row[revokedCol] !== 0 && row[revokedCol] !== '0';
      const id = importedTokenId('tenant', String(row._rowid));
      insertToken(db, {
        id,
        tenant,
        label: str(row, labelCol),
        createdAt: originalTimeToMs(createdCol ? row[createdCol] : null, now),
        prefix: str(row, prefixCol),
        argon2: hash,
      });
      if (revoked) db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ?').run(now, id);
      result.tenantTokens++;
    }
    db.exec('DROP TABLE tenant_tokens');
  }

  if (tables.has('deploy_log')) {
    const cols = columns(db, 'deploy_log');
    const atCol = pick(cols, 'timestamp', 'created_at', 'at');
    const actionCol = pick(cols, 'action', 'event');
    const processCol = pick(cols, 'process', 'service');
    const targetCol = pick(cols, 'instance_id', 'target', 'version', 'id');
    const detailCol = pick(cols, 'details', 'detail', 'message');
    const successCol = pick(cols, 'success', 'ok');
    const rows = db.prepare<[], Row>('SELECT * FROM deploy_log ORDER BY rowid').all();
    const insert = db.prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
    for (const row of rows) {
      const process = str(row, processCol);
      const inst = targetCol === 'id' ? null : str(row, targetCol);
      const target = process && inst ? (inst.includes(' -> ') ? `${process} ${inst}` : `${process}:${inst}`) : (process ?? inst ?? '-');
      const failed = successCol !== undefined && (row[successCol] === 0 || row[successCol] === '0' || row[successCol] === 'false');
      const detail = [str(row, detailCol), failed ? 'failed' : null].filter((x) => x !== null).join('; ');
      insert.run(originalTimeToMs(atCol ? row[atCol] : null, now), ORIGINAL_ACTOR, str(row, actionCol) ?? 'unknown', target, detail === '' ? null : detail);
      result.auditEntries++;
    }
    db.exec('DROP TABLE deploy_log');
  }

  if (tables.has('instance_state')) {
    const cols = columns(db, 'instance_state');
    const serviceCol = pick(cols, 'process', 'service');
    const idCol = pick(cols, 'instance_id', 'id');
    const pidCol = pick(cols, 'pid');
    const portCol = pick(cols, 'port');
    const weightCol = pick(cols, 'weight');
    if (!serviceCol || !idCol) throw new Error(`instance_state has no process or instance_id column (columns: ${[...cols].join(', ')}); restore the backup and report this`);
    const rows = db.prepare<[], Row>('SELECT * FROM instance_state').all();
    const insert = db.prepare('INSERT OR REPLACE INTO legacy_instances (service, id, pid, port, weight, imported_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const row of rows) {
      const service = str(row, serviceCol);
      const id = str(row, idCol);
      if (!service || !id) continue;
      const num = (col: string | undefined): number | null => {
        const v = col === undefined ? null : Number(row[col]);
        return v !== null && Number.isInteger(v) && v > 0 ? v : null;
      };
      const weight = num(weightCol);
      insert.run(service, id, num(pidCol), num(portCol), weight === null ? (weightCol && row[weightCol] === 0 ? 0 : 100) : Math.min(100, weight), now);
      result.instances++;
    }
    db.exec('DROP TABLE instance_state');
  }
  return result;
}
