import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DB_FILE, EmptyDatabaseError, listBackups, openDatabase, SchemaTooNewError, UnrecognizedDatabaseError } from '../../src/store/database.js';
import { CURRENT_SCHEMA_VERSION, MIGRATIONS, MigrationError, runMigrations, schemaVersion } from '../../src/store/migrations.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { InstanceStore } from '../../src/store/instance-store.js';
import { LogStore } from '../../src/store/log-store.js';
import { TokenStore } from '../../src/store/token-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function dataDir(): string {
  const t = tempDir('tenement-store-db-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A database at schema v1 with one row in each main table, written the way a v1 tenement would have. */
function makeV1Database(dir: string): void {
  const db = new Database(path.join(dir, DB_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  runMigrations(db, { to: 1, appVersion: '0.1.0' });
  assert.equal(schemaVersion(db), 1);
  db.prepare(
    `INSERT INTO instances (service, id, port, pid, pid_start_time, desired, observed, health, weight, health_failures, restart_count, created_at, started_at, last_activity_at, last_error, last_exit)
     VALUES ('notes', 'alice', 30001, 4242, '123456', 'running', 'running', 'healthy', 70, 0, 2, 1000, 2000, 3000, NULL, 'code 1')`,
  ).run();
  db.prepare("INSERT INTO restarts (service, id, at, reason) VALUES ('notes', 'alice', 1500, 'health check failed')").run();
  db.prepare("INSERT INTO tokens (id, tenant, hash, label, created_at) VALUES ('tok1', 'alice', 'h-alice', 'laptop', 1000)").run();
  db.prepare("INSERT INTO audit (at, actor, action, target, detail) VALUES (1000, 'admin', 'spawn', 'notes:alice', NULL)").run();
  db.prepare("INSERT INTO logs (service, instance, stream, level, at, text) VALUES ('notes', 'alice', 'stderr', 'error', 2500, 'connection refused by upstream')").run();
  db.prepare("INSERT INTO log_offsets (file, byte_offset, updated_at) VALUES ('/logs/notes/alice.log', 4096, 2600)").run();
  db.close();
}

describe('openDatabase', () => {
  it('creates a fresh database at the current version, in WAL mode, without a backup', () => {
    const dir = path.join(dataDir(), 'nested', 'data'); // created on demand
    const opened = openDatabase(dir, { appVersion: '1.2.3' });
    try {
      assert.equal(opened.path, path.join(dir, DB_FILE));
      assert.equal(schemaVersion(opened.db), CURRENT_SCHEMA_VERSION);
      assert.equal(CURRENT_SCHEMA_VERSION, MIGRATIONS.length);
      assert.equal(opened.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(opened.db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(opened.db.pragma('synchronous', { simple: true }), 1); // NORMAL
      assert.ok((opened.db.pragma('busy_timeout', { simple: true }) as number) > 0);
      assert.equal(opened.migratedFrom, undefined);
      assert.equal(opened.backup, undefined);
      assert.deepEqual(listBackups(dir), []);
      const meta = opened.db.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta ORDER BY key').all();
      assert.deepEqual(meta, [
        { key: 'created_by', value: '1.2.3' },
        { key: 'schema_written_by', value: '1.2.3' },
      ]);
    } finally {
      opened.db.close();
    }
    // Reopening an up-to-date database changes nothing.
    const again = openDatabase(dir);
    assert.equal(again.migratedFrom, undefined);
    assert.equal(again.backup, undefined);
    again.db.close();
  });

  it('migrates a v1 database to the current version, keeping its rows, after backing it up', () => {
    const dir = dataDir();
    makeV1Database(dir);

    const opened = openDatabase(dir, { appVersion: '0.3.0' });
    try {
      assert.equal(opened.migratedFrom, 1);
      assert.equal(opened.backup, path.join(dir, `${DB_FILE}.v1.bak`));
      assert.equal(schemaVersion(opened.db), CURRENT_SCHEMA_VERSION);

      const alice = new InstanceStore(opened.db).get('notes', 'alice');
      assert.deepEqual(alice, {
        service: 'notes',
        id: 'alice',
        port: 30001,
        pid: 4242,
        pidStartTime: '123456',
        desired: 'running',
        observed: 'running',
        health: 'healthy',
        weight: 70,
        healthFailures: 0,
        restartCount: 2,
        createdAt: 1000,
        startedAt: 2000,
        lastActivityAt: 3000,
        lastError: null,
        lastExit: 'code 1',
        configHash: null, // the v2 column
      });
      assert.equal(new InstanceStore(opened.db).restartsSince('notes', 'alice', 0), 1);
      assert.equal(new TokenStore(opened.db).findByHash('h-alice')?.label, 'laptop');
      assert.equal(new AuditStore(opened.db).list()[0]?.action, 'spawn');
      const logs = new LogStore(opened.db);
      assert.deepEqual(
        logs.query({ search: '"connection refused"', limit: 10 }).map((l) => l.text),
        ['connection refused by upstream'],
      );
      assert.equal(logs.count(), 1);
      assert.equal(logs.offset('/logs/notes/alice.log'), 4096);
      // v2's indexes exist.
      const indexes = opened.db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'").pluck().all();
      assert.ok(indexes.includes('audit_by_at'));
      assert.equal(opened.db.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_written_by'").pluck().get(), '0.3.0');
    } finally {
      opened.db.close();
    }

    // The backup is the v1 database as it was: it opens as v1 and has the rows.
    const backup = new Database(path.join(dir, `${DB_FILE}.v1.bak`), { readonly: true });
    try {
      assert.equal(schemaVersion(backup), 1);
      assert.equal(backup.prepare('SELECT count(*) FROM instances').pluck().get(), 1);
      assert.equal(backup.prepare('SELECT count(*) FROM logs').pluck().get(), 1);
      const cols = backup.prepare<[], string>("SELECT name FROM pragma_table_info('instances')").pluck().all();
      assert.ok(!cols.includes('config_hash'));
      assert.equal(backup.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_written_by'").pluck().get(), '0.1.0');
    } finally {
      backup.close();
    }
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.partial')));
  });

  it('never overwrites an existing backup: a second upgrade from the same version gets a timestamped name', () => {
    const dir = dataDir();
    makeV1Database(dir);
    fs.writeFileSync(path.join(dir, `${DB_FILE}.v1.bak`), 'an older backup');
    const opened = openDatabase(dir);
    opened.db.close();
    assert.match(path.basename(opened.backup ?? ''), /^tenement\.db\.v1\.\d{8}T\d{6}Z\.bak$/);
    assert.equal(fs.readFileSync(path.join(dir, `${DB_FILE}.v1.bak`), 'utf8'), 'an older backup');
    assert.equal(listBackups(dir).length, 2);
  });

  it('refuses a database from a newer tenement, naming both versions and the backup to restore', () => {
    const dir = dataDir();
    makeV1Database(dir);
    openDatabase(dir).db.close(); // upgrade: leaves tenement.db.v1.bak
    // A hypothetical newer tenement upgraded it further, leaving its own backup of our version.
    const raw = new Database(path.join(dir, DB_FILE));
    raw.exec(`VACUUM INTO '${path.join(dir, `${DB_FILE}.v${CURRENT_SCHEMA_VERSION}.bak`)}'`);
    raw.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 1}`);
    raw.prepare("UPDATE meta SET value = '9.9.9' WHERE key = 'schema_written_by'").run();
    raw.close();
    fs.writeFileSync(path.join(dir, `${DB_FILE}.v${CURRENT_SCHEMA_VERSION + 1}.bak`), 'too new to help');

    const expectedBackup = path.join(dir, `${DB_FILE}.v${CURRENT_SCHEMA_VERSION}.bak`);
    assert.throws(
      () => openDatabase(dir, { appVersion: '0.3.0' }),
      (err: unknown) => {
        assert.ok(err instanceof SchemaTooNewError);
        assert.equal(err.found, CURRENT_SCHEMA_VERSION + 1);
        assert.equal(err.supported, CURRENT_SCHEMA_VERSION);
        assert.equal(err.backup, expectedBackup);
        assert.match(err.message, new RegExp(`schema version ${CURRENT_SCHEMA_VERSION + 1}\\b`));
        assert.match(err.message, new RegExp(`up to ${CURRENT_SCHEMA_VERSION}\\b`));
        assert.match(err.message, /tenement 9\.9\.9/);
        assert.ok(err.message.includes(`cp ${expectedBackup} ${path.join(dir, DB_FILE)}`), err.message);
        return true;
      },
    );
    // Left untouched.
    const after = new Database(path.join(dir, DB_FILE), { readonly: true });
    assert.equal(schemaVersion(after), CURRENT_SCHEMA_VERSION + 1);
    after.close();
  });

  it('says so when a too-new database has no usable backup', () => {
    const dir = dataDir();
    const raw = new Database(path.join(dir, DB_FILE));
    raw.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => openDatabase(dir),
      (err: unknown) => {
        assert.ok(err instanceof SchemaTooNewError);
        assert.equal(err.backup, undefined);
        assert.match(err.message, /a newer tenement/);
        assert.match(err.message, /none .* was found/);
        return true;
      },
    );
  });

  it("refuses a database that is not tenement's, without touching it", () => {
    const dir = dataDir();
    const raw = new Database(path.join(dir, DB_FILE));
    raw.exec('CREATE TABLE customers (name TEXT)');
    raw.close();
    assert.throws(
      () => openDatabase(dir),
      (err: unknown) => err instanceof UnrecognizedDatabaseError && /customers/.test(err.message),
    );
    const after = new Database(path.join(dir, DB_FILE), { readonly: true });
    assert.equal(schemaVersion(after), 0);
    assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), ['customers']);
    after.close();
    assert.deepEqual(listBackups(dir), []);
  });

  it('explains a file that is not a database at all', () => {
    const dir = dataDir();
    fs.writeFileSync(path.join(dir, DB_FILE), 'this is not sqlite, just some text that is long enough to have a header');
    assert.throws(() => openDatabase(dir), /tenement\.db is not a readable SQLite database \(file is not a database\); move it away, or restore a backup/);
  });

  it('adopts the original (Rust) tenement database: logs imported and searchable, config kept, v0 backup', () => {
    const dir = dataDir();
    const raw = new Database(path.join(dir, DB_FILE));
    raw.pragma('journal_mode = WAL');
    // The shape the original created (tenement/src/store.rs, v0.2.x).
    raw.exec(`
      CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, level TEXT NOT NULL,
                         process TEXT NOT NULL, instance_id TEXT NOT NULL, message TEXT NOT NULL);
      CREATE INDEX idx_logs_process ON logs(process);
      CREATE INDEX idx_logs_instance ON logs(instance_id);
      CREATE INDEX idx_logs_timestamp ON logs(timestamp DESC);
      CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='logs', content_rowid='id');
      CREATE TRIGGER logs_ai AFTER INSERT ON logs BEGIN INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message); END;
      CREATE TRIGGER logs_ad AFTER DELETE ON logs BEGIN INSERT INTO logs_fts(logs_fts, rowid, message) VALUES('delete', old.id, old.message); END;
      CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO logs (timestamp, level, process, instance_id, message) VALUES
        ('2024-01-15T10:30:00.123456789+00:00', 'stdout', 'api', 'prod', 'listening on port 30001'),
        ('2024-01-15T10:30:01+00:00', 'stderr', 'api', 'prod', 'database connection failed');
      INSERT INTO config (key, value) VALUES ('api_token_hash', '$argon2id$v=19$m=19456,t=2,p=1$abc$def');
    `);
    raw.close();

    const opened = openDatabase(dir);
    try {
      assert.equal(opened.migratedFrom, 0);
      assert.equal(opened.backup, path.join(dir, `${DB_FILE}.v0.bak`));
      const logs = new LogStore(opened.db);
      assert.equal(logs.count(), 2);
      const [line] = logs.query({ search: 'connection', limit: 10 });
      assert.deepEqual(
        { ...line, id: 0 },
        { id: 0, service: 'api', instance: 'prod', stream: 'stderr', level: 'info', at: Date.UTC(2024, 0, 15, 10, 30, 1), text: 'database connection failed' },
      );
      assert.equal(logs.query({ stream: 'stdout', limit: 1 })[0]?.at, Date.UTC(2024, 0, 15, 10, 30, 0, 123));
      assert.equal(opened.db.prepare<[], string>("SELECT value FROM original_config WHERE key = 'api_token_hash'").pluck().get(), '$argon2id$v=19$m=19456,t=2,p=1$abc$def');
    } finally {
      opened.db.close();
    }
    const backup = new Database(path.join(dir, `${DB_FILE}.v0.bak`), { readonly: true });
    assert.equal(backup.prepare('SELECT count(*) FROM logs').pluck().get(), 2);
    backup.close();
  });
});

describe('runMigrations', () => {
  it('runs each migration in its own transaction: a failing step leaves the previous version intact', () => {
    const dir = dataDir();
    const db = new Database(path.join(dir, DB_FILE));
    try {
      const broken = [MIGRATIONS[0]!, { version: 2, description: 'broken on purpose', up: 'CREATE TABLE half (a); SELECT * FROM no_such_table;' }];
      assert.throws(
        () => runMigrations(db, { migrations: broken }),
        (err: unknown) => {
          assert.ok(err instanceof MigrationError);
          assert.equal(err.version, 2);
          assert.match(err.message, /broken on purpose.*no such table/);
          return true;
        },
      );
      assert.equal(schemaVersion(db), 1);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
      // The real migrations from v2 on then apply cleanly.
      const rest = MIGRATIONS.slice(1).map((m) => m.version);
      assert.deepEqual(runMigrations(db), { from: 1, to: MIGRATIONS.length, applied: rest });
      assert.deepEqual(runMigrations(db), { from: MIGRATIONS.length, to: MIGRATIONS.length, applied: [] });
    } finally {
      db.close();
    }
  });

  it('rejects a migration list with gaps', () => {
    const db = new Database(':memory:');
    try {
      assert.throws(() => runMigrations(db, { migrations: [MIGRATIONS[0]!, { version: 3, description: 'gap', up: '' }] }), /expected 2/);
    } finally {
      db.close();
    }
  });
});

describe('an empty or missing database in a used data dir (hardening #3)', () => {
  it('is refused with the signs and the backups named; --allow-empty-db starts afresh', () => {
    const dir = dataDir();
    openDatabase(dir).db.close();
    fs.mkdirSync(path.join(dir, '_logs', 'notes'), { recursive: true });
    fs.writeFileSync(path.join(dir, '_logs', 'notes', 'alice.stdout.log'), 'hello\n');
    fs.mkdirSync(path.join(dir, 'notes', 'alice'), { recursive: true });
    fs.copyFileSync(path.join(dir, DB_FILE), path.join(dir, `${DB_FILE}.v1.bak`));
    fs.truncateSync(path.join(dir, DB_FILE), 0);
    assert.throws(
      () => openDatabase(dir),
      (err: unknown) => {
        assert.ok(err instanceof EmptyDatabaseError);
        assert.match(err.message, /tenement\.db is empty, but .* has been used before \(1 database backup; captured logs in _logs\/; instance data of notes\/\)/);
        assert.deepEqual(err.backups, [path.join(dir, `${DB_FILE}.v1.bak`)]);
        return true;
      },
    );
    assert.equal(fs.statSync(path.join(dir, DB_FILE)).size, 0, 'left as it was');
    fs.rmSync(path.join(dir, DB_FILE));
    assert.throws(() => openDatabase(dir), /tenement\.db is missing/);
    assert.equal(fs.existsSync(path.join(dir, DB_FILE)), false, 'a refused open creates no file');
    const opened = openDatabase(dir, { allowEmpty: true });
    assert.equal(schemaVersion(opened.db), CURRENT_SCHEMA_VERSION);
    opened.db.close();
  });

  it('a fresh data dir (nothing but the lock) starts normally', () => {
    const dir = dataDir();
    fs.writeFileSync(path.join(dir, 'controller.lock'), '{}');
    openDatabase(dir).db.close();
  });
});
