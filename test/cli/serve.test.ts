// `ten serve` / `ten down` as real processes: adoption after SIGKILL, one controller per data dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startController, runTen } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { killAllMentioning, pidRunning, pidsMentioning } from '../helpers/processes.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { openDatabase } from '../../src/store/database.js';
import { InstanceStore } from '../../src/store/instance-store.js';
import type { InstanceRecord } from '../../src/store/types.js';
import { waitFor } from '../../src/util/wait.js';

function writeConfig(dir: string): string {
  const file = path.join(dir, 'tenement.toml');
  fs.writeFileSync(
    file,
    `[settings]
data_dir = "data"
health_check_interval = 1
stop_timeout = 2
${portRange().toml}
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"

[instances]
api = ["alice", "bob"]
`,
  );
  return file;
}

function readInstances(dataDir: string): InstanceRecord[] {
  const { db } = openDatabase(dataDir);
  try {
    return new InstanceStore(db).list();
  } finally {
    db.close();
  }
}

async function waitRunning(dataDir: string, n: number): Promise<InstanceRecord[]> {
  return waitFor(
    () => {
      const list = readInstances(dataDir);
      return list.length === n && list.every((r) => r.observed === 'running' && r.pid !== null) ? list : undefined;
    },
    { timeoutMs: 15_000, what: `${n} running instances`, maxIntervalMs: 100 },
  );
}

test('SIGKILLed controller: tenants keep running and the next controller adopts the same pids', async () => {
  const { dir, cleanup } = tempDir();
  const config = writeConfig(dir);
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'controller.log');
  try {
    const first = await startController({ config, logFile: log });
    const before = await waitRunning(dataDir, 2);
    await first.stop('SIGKILL');
    for (const r of before) assert.ok(pidRunning(r.pid!), `${r.id} survived the controller's SIGKILL`);

    const second = await startController({ config, logFile: log });
    const after = await waitRunning(dataDir, 2);
    assert.deepEqual(
      after.map((r) => [r.id, r.pid, r.port]),
      before.map((r) => [r.id, r.pid, r.port]),
      'same pids and ports: nothing restarted',
    );
    assert.ok(after.every((r) => r.restartCount === 0));
    // /health answers as soon as the listener is up; adoption follows.
    await waitFor(() => /adopted running instance.*api:bob|api:bob.*adopted running instance/.test(second.log()), { timeoutMs: 10_000, what: 'adoption logged' });

    // Graceful stop of the controller leaves tenants running too.
    await second.stop('SIGTERM');
    assert.equal((await second.exited).code, 0);
    for (const r of before) assert.ok(pidRunning(r.pid!));

    // `ten down` stops every tenant on purpose (no controller running now).
    const down = await runTen(['down', '--config', config]);
    assert.equal(down.code, 0, down.stderr);
    for (const r of before) assert.equal(pidRunning(r.pid!), false, `${r.id} stopped by ten down`);
    assert.deepEqual(pidsMentioning(dataDir), []);
  } finally {
    killAllMentioning(dir);
    cleanup();
  }
});

test('a second controller on the same data dir exits with a clear error; `ten down` stops the running one', async () => {
  const { dir, cleanup } = tempDir();
  const config = writeConfig(dir);
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'controller.log');
  try {
    const first = await startController({ config, logFile: log });
    const running = await waitRunning(dataDir, 2);
    const second = await startController({ config, logFile: path.join(dir, 'second.log'), waitReady: false });
    const exit = await second.exited;
    assert.notEqual(exit.code, 0);
    assert.match(second.log(), new RegExp(`owned by the controller with pid ${first.pid}`));
    assert.ok(pidRunning(first.pid), 'the first controller is untouched');

    const down = await runTen(['down', '--config', config]);
    assert.equal(down.code, 0, down.stderr);
    await first.exited;
    for (const r of running) assert.equal(pidRunning(r.pid!), false);
    assert.deepEqual(pidsMentioning(dataDir), []);
  } finally {
    killAllMentioning(dir);
    cleanup();
  }
});

test('ten --version, --help and <command> --help', async () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const v = await runTen(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), `tenement ${pkg.version}`);
  const help = await runTen(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['serve', 'down', 'config', 'init']) assert.match(help.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'));
  const serveHelp = await runTen(['serve', '--help']);
  for (const flag of ['--config', '--port', '--domain', '--data-dir']) assert.match(serveHelp.stdout, new RegExp(flag));
  const bad = await runTen(['serve', '--port', 'abc']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /"abc" is not a port/);
});

test('ten config validates (exit 0, effective config) and reports file:line errors (non-zero)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = writeConfig(dir);
    const ok = await runTen(['config', '--config', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /health_check_interval = 1/);
    assert.match(ok.stdout, /idle_timeout = 0/, 'defaults are filled in');
    assert.match(ok.stdout, /^# isolation on this host:\n(#   (NOT )?given: .+\n)+/m, 'what isolation this host gives, as TOML comments');
    const bad = path.join(dir, 'bad.toml');
    fs.writeFileSync(bad, '[settings]\nmax_restarts = "three"\n\n[service.Api]\ncommand = "x"\n');
    const res = await runTen(['config', '--config', bad]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, new RegExp(`${bad.replaceAll('/', '\\/')}:2: settings.max_restarts: expected`));
    assert.match(res.stderr, /:4: service\.Api/);
    // Invalid config: serve refuses before touching anything.
    const serve = await runTen(['serve', '--config', bad, '--port', '1']);
    assert.notEqual(serve.code, 0);
    assert.equal(fs.existsSync(path.join(dir, 'tenement-data')), false, 'no data dir created');
  } finally {
    cleanup();
  }
});

test('ten init writes a starter config that validates, and refuses to overwrite it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await runTen(['init', '--name', 'notes', '--command', 'python3 app.py'], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const text = fs.readFileSync(path.join(dir, 'tenement.toml'), 'utf8');
    assert.match(text, /\[service\.notes\]/);
    const check = await runTen(['config'], { cwd: dir });
    assert.equal(check.code, 0, check.stderr);
    const again = await runTen(['init'], { cwd: dir });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    assert.equal(fs.readFileSync(path.join(dir, 'tenement.toml'), 'utf8'), text, 'unchanged');
  } finally {
    cleanup();
  }
});

test('hardening #3: a truncated database in a used data dir is refused, naming the backups; tenants are left alone', async () => {
  const { dir, cleanup } = tempDir();
  const config = writeConfig(dir);
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'controller.log');
  try {
    const first = await startController({ config, logFile: log });
    const before = await waitRunning(dataDir, 2);
    // Each instance may be several processes (sandbox, then the app): count them all.
    const processesBefore = pidsMentioning(dataDir).length;
    await first.stop('SIGTERM');
    const dbFile = path.join(dataDir, 'tenement.db');
    // The controller checkpointed and closed the db: the file alone is the database.
    const backup = path.join(dataDir, 'tenement.db.v1.bak');
    fs.copyFileSync(dbFile, backup);
    fs.truncateSync(dbFile, 0);
    for (const f of [`${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });

    const second = await startController({ config, logFile: path.join(dir, 'second.log'), waitReady: false });
    const exit = await second.exited;
    assert.notEqual(exit.code, 0, 'refused');
    const text = second.log();
    assert.match(text, /tenement\.db is empty, but .* has been used before/);
    assert.ok(text.includes(`cp ${backup} ${dbFile}`), `names the backup and how to restore it:\n${text}`);
    assert.match(text, /--allow-empty-db/);
    assert.equal(fs.statSync(dbFile).size, 0, 'the database was not initialized');
    for (const r of before) assert.ok(pidRunning(r.pid!), `${r.id} untouched`);
    assert.equal(pidsMentioning(dataDir).length, processesBefore, 'nothing was spawned a second time');

    // Restoring the backup as the message says brings everything back.
    fs.copyFileSync(backup, dbFile);
    const third = await startController({ config, logFile: log });
    const after = await waitRunning(dataDir, 2);
    assert.deepEqual(
      after.map((r) => r.pid),
      before.map((r) => r.pid),
      'adopted, not respawned',
    );
    await third.stop('SIGTERM');
    const down = await runTen(['down', '--config', config]);
    assert.equal(down.code, 0, down.stderr);
  } finally {
    killAllMentioning(dir);
    cleanup();
  }
});

test('hardening #8: a large log backlog is indexed in the background; SIGTERM during it stops the controller promptly', async () => {
  const { dir, cleanup } = tempDir();
  const config = writeConfig(dir);
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'controller.log');
  try {
    const first = await startController({ config, logFile: log });
    await waitRunning(dataDir, 2);
    await first.stop('SIGTERM');
    // 40 MB of output "written while the controller was down".
    const file = path.join(dataDir, '_logs', 'api', 'alice.stdout.log');
    const line = `${'y'.repeat(95)} backlog\n`;
    const block = line.repeat(Math.floor((1024 * 1024) / line.length));
    const fd = fs.openSync(file, 'a');
    for (let i = 0; i < 40; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
    const size = fs.statSync(file).size;

    // Ready (startController waits for /health 200) while the backlog is still being indexed.
    const second = await startController({ config, logFile: path.join(dir, 'second.log'), timeoutMs: 30_000 });
    const indexedAtReady = readOffset(dataDir, file);
    second.child.kill('SIGTERM');
    // Well within systemd's 30 s stop timeout.
    const exit = await waitFor(() => second.exited, { timeoutMs: 20_000, what: 'the controller to exit after SIGTERM' });
    assert.equal(exit.code, 0, second.log());
    assert.match(second.log(), /controller stopped/);
    const after = readOffset(dataDir, file);
    assert.ok(after >= indexedAtReady && after <= size, `offset ${after} of ${size} kept for the next start`);
    if (indexedAtReady >= size) console.log('# note: this machine indexed the whole backlog before the controller was ready');
    const down = await runTen(['down', '--config', config]);
    assert.equal(down.code, 0, down.stderr);
  } finally {
    killAllMentioning(dir);
    cleanup();
  }
});

function readOffset(dataDir: string, file: string): number {
  const { db } = openDatabase(dataDir);
  try {
    return (db.prepare('SELECT byte_offset FROM log_offsets WHERE file = ?').pluck().get(file) as number | undefined) ?? 0;
  } finally {
    db.close();
  }
}
