import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE, readDataDirLock } from '../../src/store/data-dir-lock.js';
import { isAlive, isSameProcess, readProcStartTime } from '../../src/util/proc.js';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function dataDir(): string {
  const t = tempDir('tenement-store-lock-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

function writeLock(dir: string, content: object | string): string {
  const file = path.join(dir, LOCK_FILE);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('proc', () => {
  it('reads start times and tells live, dead and reused pids apart', async () => {
    const start = readProcStartTime(process.pid);
    assert.match(start ?? '', /^\d+$/);
    assert.equal(isAlive(process.pid), true);
    assert.equal(isSameProcess(process.pid, start), true);
    assert.equal(isSameProcess(process.pid, '1'), false); // same pid, another process
    assert.equal(isSameProcess(process.pid, null), false); // unprovable
    const dead = await deadPid();
    assert.equal(isAlive(dead), false);
    assert.equal(readProcStartTime(dead), null);
    assert.equal(isSameProcess(dead, start), false);
    for (const bogus of [0, -1, 1.5, Number.NaN]) assert.equal(isAlive(bogus), false); // never a process group
    assert.equal(isAlive(1), true); // init: EPERM or not, it is alive
  });
});

describe('acquireDataDirLock', () => {
  it('writes the lock, refuses a second owner naming the pid, and releases', () => {
    const dir = dataDir();
    const lock = acquireDataDirLock(dir, { version: '0.3.0' });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
    assert.equal(onDisk.pid, process.pid);
    assert.equal(onDisk.startTime, readProcStartTime(process.pid));
    assert.equal(onDisk.version, '0.3.0');
    assert.ok(!Number.isNaN(Date.parse(onDisk.acquiredAt)));
    assert.deepEqual(readDataDirLock(dir), lock.info);

    assert.throws(
      () => acquireDataDirLock(dir),
      (err: unknown) => {
        assert.ok(err instanceof DataDirLockedError);
        assert.ok(err.message.includes(`data dir ${dir} is owned by the controller with pid ${process.pid} since ${lock.info.acquiredAt}`), err.message);
        assert.match(err.message, new RegExp(`\`ten down\` / kill ${process.pid}\\) or use another --data-dir`));
        return true;
      },
    );

    assert.equal(lock.release(), true);
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
    assert.equal(lock.release(), false);
    assert.equal(readDataDirLock(dir), null);
    acquireDataDirLock(dir).release(); // free again
  });

  it('takes over a lock left by a dead process', async () => {
    const dir = dataDir();
    const pid = await deadPid();
    writeLock(dir, { pid, startTime: '12345', acquiredAt: new Date(0).toISOString(), version: 'old' });
    const lock = acquireDataDirLock(dir);
    assert.equal(readDataDirLock(dir)?.pid, process.pid);
    assert.equal(lock.release(), true);
  });

  it('takes over a lock whose pid is alive but belongs to another process (pid reuse)', () => {
    const dir = dataDir();
    writeLock(dir, { pid: process.pid, startTime: '1', acquiredAt: new Date(0).toISOString(), version: 'old' });
    const lock = acquireDataDirLock(dir);
    assert.equal(readDataDirLock(dir)?.startTime, readProcStartTime(process.pid));
    lock.release();
  });

  it('takes over an old unreadable lock file, and a dead owner from another hostname (re-created container)', async () => {
    const dir = dataDir();
    const file = writeLock(dir, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    acquireDataDirLock(dir).release();

    writeLock(dir, { pid: await deadPid(), startTime: '1', acquiredAt: 'then', version: 'x', hostname: 'old-container' });
    acquireDataDirLock(dir).release();
  });

  it('is not locked forever by a takeover that a crashed starter left half done', async () => {
    const dir = dataDir();
    writeLock(dir, { pid: await deadPid(), startTime: '1', acquiredAt: 'then', version: 'old' });
    const takeover = path.join(dir, `${LOCK_FILE}.takeover`);
    fs.mkdirSync(takeover);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(takeover, old, old);
    const lock = acquireDataDirLock(dir);
    assert.equal(readDataDirLock(dir)?.pid, process.pid);
    assert.equal(fs.existsSync(takeover), false);
    lock.release();
  });

  it('names the other host when a live owner wrote a different hostname', () => {
    const dir = dataDir();
    writeLock(dir, { pid: process.pid, startTime: readProcStartTime(process.pid), acquiredAt: 'then', version: 'x', hostname: 'elsewhere' });
    assert.throws(() => acquireDataDirLock(dir), new RegExp(`owned by the controller with pid ${process.pid} on host elsewhere since then`));
  });

  it('release leaves a lock that is no longer ours', () => {
    const dir = dataDir();
    const lock = acquireDataDirLock(dir);
    // Someone judged us stale and took over: the file now holds their lock.
    const theirs = JSON.stringify({ ...lock.info, nonce: 'theirs' });
    writeLock(dir, theirs);
    assert.equal(lock.release(), false);
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'), theirs);
  });

  it('lets exactly one of several simultaneous starters win a stale lock', async () => {
    const dir = dataDir();
    writeLock(dir, { pid: await deadPid(), startTime: '1', acquiredAt: 'then', version: 'old' });
    const moduleUrl = new URL('../../src/store/data-dir-lock.js', import.meta.url).href;
    // Each child says "ready" once loaded and tries only when the parent says "go" (all at once);
    // the winner holds the lock until its stdin ends, which the parent does once every child has
    // answered, so a slow child cannot come after the winner let go.
    const script = `
      const { acquireDataDirLock } = await import(${JSON.stringify(moduleUrl)});
      const lines = (await import('node:readline')).createInterface({ input: process.stdin });
      process.stdout.write('ready\\n');
      for await (const _ of lines) break;
      let lock;
      try {
        lock = acquireDataDirLock(process.env.DIR);
        process.stdout.write('won\\n');
      } catch (err) {
        process.stdout.write(err.name + '\\n');
      }
      process.stdin.resume();
      process.stdin.once('end', () => lock?.release());`;
    const children = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DIR: dir }, stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      /** The first n complete lines the child wrote. */
      const lines = (n: number) => out.split('\n').slice(0, -1).slice(0, n);
      return { child, lines, exited };
    });
    try {
      await waitFor(() => children.every((c) => c.lines(1).length === 1), { timeoutMs: 15_000, what: 'every child ready' });
      for (const c of children) c.child.stdin.write('go\n');
      await waitFor(() => children.every((c) => c.lines(2).length === 2), { timeoutMs: 15_000, what: 'every child to try' });
    } finally {
      for (const c of children) c.child.stdin.end();
      await Promise.all(children.map((c) => c.exited));
    }
    const results = children.map((c) => c.lines(2)[1]);
    assert.deepEqual(results.filter((r) => r === 'won').length, 1, results.join(','));
    assert.deepEqual(results.filter((r) => r === 'DataDirLockedError').length, 5, results.join(','));
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false); // the winner released it
    assert.deepEqual(fs.readdirSync(dir), []); // no stale-* leftovers
  });
});
