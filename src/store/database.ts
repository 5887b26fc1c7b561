// Opens {dataDir}/tenement.db and brings it to the schema this build understands. An upgrade first
// takes a consistent backup (the only downgrade path: restore it), then migrates step by step. A
// database from a newer build is never touched: refusing is cheap, a half-understood write is not.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CURRENT_SCHEMA_VERSION, runMigrations, schemaVersion } from './migrations.js';
import { isOriginalTenementDb, userTables } from './original-schema.js';
import { previousLifeSigns } from './previous-life.js';

export const DB_FILE = 'tenement.db';

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

export interface OpenDatabaseOptions {
  /** Recorded in the meta table and shown to whoever finds the database too new for them. */
  appVersion?: string;
  /**
   * Start with a new, empty database even though the data dir shows a previous life
   * (`ten serve --allow-empty-db`). Default false: such a start is refused.
   */
  allowEmpty?: boolean;
}

export interface OpenedDatabase {
  db: Database.Database;
  /** Absolute path of the database file. */
  path: string;
  /** Schema version the file had before this open, when it was migrated (0 = the original tenement's db). */
  migratedFrom?: number;
  /** Backup taken before migrating. */
  backup?: string;
}

export class SchemaTooNewError extends Error {
  readonly path: string;
  readonly found: number;
  readonly supported: number;
  /** The newest backup this build can open, if any. */
  readonly backup: string | undefined;
  constructor(dbPath: string, found: number, supported: number, backup: string | undefined, message: string) {
    super(message);
    this.name = 'SchemaTooNewError';
    this.path = dbPath;
    this.found = found;
    this.supported = supported;
    this.backup = backup;
  }
}

export class UnrecognizedDatabaseError extends Error {
  constructor(dbPath: string, tables: string[]) {
    super(
      `${dbPath} is not a tenement database: it has no schema version and contains tables ${tables.join(', ')}. ` +
        `Move it away (or point --data-dir elsewhere) and start again; tenement will not modify it.`,
    );
    this.name = 'UnrecognizedDatabaseError';
  }
}

export class EmptyDatabaseError extends Error {
  readonly backups: string[];
  constructor(dbPath: string, state: 'missing' | 'empty', signs: string[], backups: string[]) {
    const lines = [
      `${dbPath} is ${state}, but ${path.dirname(dbPath)} has been used before (${signs.join('; ')}). ` +
        'Starting on a new database would forget every token and audit entry, lose track of running instances and start them a second time. Nothing was changed.',
    ];
    if (backups.length > 0) {
      lines.push(`Restore a backup (newest first), with no tenement running on this data dir:`);
      for (const b of backups) lines.push(`  cp ${shellQuote(b)} ${shellQuote(dbPath)}`);
    } else {
      lines.push(`No backup (${DB_FILE}.v<N>.bak) was found there; restore ${DB_FILE} from your own backups if you have one.`);
    }
    lines.push('To start afresh on purpose (tokens, audit and instance records are lost), run `ten serve --allow-empty-db` once.');
    super(lines.join('\n'));
    this.name = 'EmptyDatabaseError';
    this.backups = backups;
  }
}

export function openDatabase(dataDir: string, opts: OpenDatabaseOptions = {}): OpenedDatabase {
  const appVersion = opts.appVersion ?? 'unknown';
  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  const dbPath = path.join(dir, DB_FILE);
  const size = fileSize(dbPath);
  // Checked before SQLite touches the file, so a refused start leaves it exactly as it was.
  if (size === undefined || size === 0) refuseIfUsedBefore(dir, dbPath, size === undefined ? 'missing' : 'empty', opts);
  const db = new Database(dbPath);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Read the version before any pragma that writes (journal_mode does): a newer schema is left as is.
    const found = schemaVersion(db);
    if (found > CURRENT_SCHEMA_VERSION) {
      const writtenBy = readMeta(db, 'schema_written_by');
      db.close(); // as the last connection this checkpoints the WAL, so the file alone is complete
      throw tooNewError(dir, dbPath, found, writtenBy, appVersion);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // safe in WAL mode: a power cut may lose the last commits, never corrupt
    db.pragma('foreign_keys = ON');

    const result: OpenedDatabase = { db, path: dbPath };
    if (found === CURRENT_SCHEMA_VERSION) return result;

    if (found === 0) {
      const tables = userTables(db);
      if (tables.length === 0) {
        // A valid SQLite file without tables (e.g. a bad restore): the same question.
        refuseIfUsedBefore(dir, dbPath, 'empty', opts);
        runMigrations(db, { appVersion });
        db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_by', ?)").run(appVersion);
        return result;
      }
      if (!isOriginalTenementDb(db)) throw new UnrecognizedDatabaseError(dbPath, tables);
    }
    result.backup = backupBeforeMigration(db, dir, found);
    const migration = runMigrations(db, { appVersion });
    // Another process may have migrated between our read and our transactions: then nothing changed here.
    if (migration.applied.length > 0) result.migratedFrom = found;
    return result;
  } catch (err) {
    if (db.open) db.close();
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new Error(
        `${dbPath} is not a readable SQLite database (${err instanceof Error ? err.message : String(err)}); ` +
          `move it away, or restore a backup (${DB_FILE}.v<N>.bak in the same directory) over it`,
        { cause: err },
      );
    }
    throw err;
  }
}

function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function refuseIfUsedBefore(dir: string, dbPath: string, state: 'missing' | 'empty', opts: OpenDatabaseOptions): void {
  if (opts.allowEmpty) return;
  const backups = listBackups(dir).map((b) => b.path);
  const signs = previousLifeSigns(dir, backups);
  if (signs.length > 0) throw new EmptyDatabaseError(dbPath, state, signs, backups);
}

function readMeta(db: Database.Database, key: string): string | undefined {
  try {
    return db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  } catch {
    return undefined; // a future schema may have reshaped meta; this is only for the error message
  }
}

/**
 * Copies the database with VACUUM INTO (a consistent snapshot even while others write) to
 * `tenement.db.v{N}.bak`, or a timestamped name if that exists: an older backup is never replaced.
 * Written under a temporary name and fsynced first (VACUUM INTO does not sync), so a crash never
 * leaves a half backup under a name someone would restore from.
 */
function backupBeforeMigration(db: Database.Database, dir: string, version: number): string {
  // A private temporary name, then link() to the final one: link fails instead of replacing, so
  // even two processes upgrading at once (a CLI command next to a starting controller) each keep
  // their own backup.
  const partial = path.join(dir, `${DB_FILE}.v${version}.${process.pid}.partial`);
  fs.rmSync(partial, { force: true });
  try {
    db.prepare('VACUUM INTO ?').run(partial);
    const fd = fs.openSync(partial, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    for (;;) {
      const target = freshBackupName(dir, version);
      try {
        fs.linkSync(partial, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
        fs.renameSync(partial, target); // filesystem without hard links: last resort, may race
      }
      fsyncDir(dir);
      return target;
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot back up ${path.join(dir, DB_FILE)} before upgrading its schema from version ${version}; nothing was changed: ${reason}`, { cause: err });
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

function freshBackupName(dir: string, version: number): string {
  const plain = path.join(dir, `${DB_FILE}.v${version}.bak`);
  if (!fs.existsSync(plain)) return plain;
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z'); // 20250101T120000Z
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, `${DB_FILE}.v${version}.${stamp}${n > 1 ? `-${n}` : ''}.bak`);
    if (!fs.existsSync(candidate)) return candidate;
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

export interface BackupFile {
  path: string;
  version: number;
  mtimeMs: number;
}

const BACKUP_NAME = new RegExp(`^${DB_FILE.replace('.', '\\.')}\\.v(\\d+)(?:\\.[0-9TZ-]+)?\\.bak$`);

/** Pre-upgrade backups in `dataDir`, newest schema version first, then newest file first. */
export function listBackups(dataDir: string): BackupFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dataDir);
  } catch {
    return [];
  }
  const found: BackupFile[] = [];
  for (const name of names) {
    const m = BACKUP_NAME.exec(name);
    if (!m) continue;
    const file = path.join(dataDir, name);
    try {
      found.push({ path: file, version: Number(m[1]), mtimeMs: fs.statSync(file).mtimeMs });
    } catch {
      // vanished meanwhile
    }
  }
  return found.sort((a, b) => b.version - a.version || b.mtimeMs - a.mtimeMs);
}

function shellQuote(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function tooNewError(dir: string, dbPath: string, found: number, writtenBy: string | undefined, appVersion: string): SchemaTooNewError {
  const supported = CURRENT_SCHEMA_VERSION;
  const backup = listBackups(dir).find((b) => b.version <= supported);
  const newer = writtenBy && writtenBy !== 'unknown' ? `tenement ${writtenBy}` : 'a newer tenement';
  const lines = [
    `${dbPath} has schema version ${found} (written by ${newer}), but this tenement (${appVersion}) supports schema versions up to ${supported}; it was left untouched.`,
    `Either run ${newer}${writtenBy && writtenBy !== 'unknown' ? ' or later' : ''} again,`,
  ];
  if (backup) {
    const aside = `${dbPath}.v${found}.aside`;
    lines.push(
      `or, to go back to this version, restore the backup taken before the upgrade (changes made since ${new Date(backup.mtimeMs).toISOString()} are lost).`,
      `With no tenement running on this data dir:`,
      `  cp ${shellQuote(dbPath)} ${shellQuote(aside)} && cp ${shellQuote(backup.path)} ${shellQuote(dbPath)}`,
    );
    if (fs.existsSync(`${dbPath}-wal`)) {
      lines.push(`${dbPath}-wal still exists, so another process has the database open: stop it first, or the restore will be inconsistent.`);
    }
  } else {
    lines.push(`or restore a backup from before the upgrade: none (${DB_FILE}.v<N>.bak with N <= ${supported}) was found in ${dir}.`);
  }
  return new SchemaTooNewError(dbPath, found, supported, backup?.path, lines.join('\n'));
}
