import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LaunchedChild, Launcher } from '../../src/supervisor/launcher/launcher.js';
import { ProcessRuntime } from '../../src/supervisor/runtime/process.js';
import { LaunchError, type ExitSource } from '../../src/supervisor/runtime/runtime.js';
import { isAlive, readProcStartTime } from '../../src/util/proc.js';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers/temp-dir.js';

function spec(dir: string, file: string, args: string[]) {
  return { file, args, env: { PATH: '/usr/bin:/bin', GREETING: 'hello' }, cwd: dir, stdoutLog: path.join(dir, 'logs', 'out.log'), stderrLog: path.join(dir, 'logs', 'err.log') };
}

/**
 * Neither the launcher's channel nor its tenants keep a process alive (a controller must be able to
 * exit without waiting for them): a test waiting for an exit holds the event loop itself.
 */
function holdLoop(t: { after: (fn: () => void) => void }): void {
  const timer = setInterval(() => undefined, 1000);
  t.after(() => clearInterval(timer));
}

function exitOf(child: ExitSource): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The launcher's own children, from /proc (what it started and has not reaped). */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A launcher with a fast orphan poll, and sleepers started through it that the test kills at its end. */
function sleepers(t: { after: (fn: () => void) => void }) {
  holdLoop(t);
  const { dir, cleanup } = tempDir();
  const launcher = new Launcher({ orphanPollMs: 20 });
  const runtime = new ProcessRuntime({ launcher });
  const pids: number[] = [];
  t.after(() => {
    launcher.close();
    for (const pid of pids) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    cleanup();
  });
  const sleeper = async () => {
    const launched = await runtime.launch(spec(dir, '/bin/sleep', ['60']));
    pids.push(launched.pid);
    return launched;
  };
  return { launcher, sleeper };
}

test('the launcher starts the process (not this one), with its env, folder and output files, and reports how it exited', async (t) => {
  holdLoop(t);
  const { dir, cleanup } = tempDir();
  const launcher = new Launcher();
  const runtime = new ProcessRuntime({ launcher });
  t.after(() => {
    launcher.close();
    cleanup();
  });
  const launched = await runtime.launch(spec(dir, '/bin/sh', ['-c', 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 7']));
  assert.ok(launcher.pid !== undefined && launcher.pid !== process.pid);
  assert.equal(typeof launched.startTime, 'string', 'the start time is read before the process could be reaped');
  // Listened for only after it has surely exited: the status is kept for a late listener.
  assert.ok(launched.child instanceof LaunchedChild);
  const child = launched.child;
  await waitFor(() => child.exitStatus !== undefined, { timeoutMs: 10_000, what: 'the launcher to report the exit' });
  const { code, signal } = await exitOf(launched.child);
  assert.deepEqual({ code, signal }, { code: 7, signal: null });
  assert.equal(fs.readFileSync(path.join(dir, 'logs', 'out.log'), 'utf8'), `hello from ${dir}\n`);
  assert.equal(fs.readFileSync(path.join(dir, 'logs', 'err.log'), 'utf8'), 'oops\n');

  const sleeper = await runtime.launch(spec(dir, '/bin/sleep', ['60']));
  assert.deepEqual(childrenOf(launcher.pid!), [sleeper.pid], "the tenant is the launcher's child");
  const exited = exitOf(sleeper.child);
  runtime.kill(sleeper.pid);
  assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
});

test('a command that does not exist is the same LaunchError through the launcher', async (t) => {
  holdLoop(t);
  const { dir, cleanup } = tempDir();
  const launcher = new Launcher();
  t.after(() => {
    launcher.close();
    cleanup();
  });
  const err = await new ProcessRuntime({ launcher }).launch(spec(dir, 'no-such-command-xyz', [])).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LaunchError);
  assert.equal(err.code, 'ENOENT');
  assert.match(err.message, /command "no-such-command-xyz" not found \(PATH=\/usr\/bin:\/bin\)/);
});

test('when the launcher dies, what it started is still watched (exit status unknown) and the next start forks a new one', async (t) => {
  const { launcher, sleeper } = sleepers(t);
  const first = await sleeper();
  const dead = launcher.pid!;
  const exited = exitOf(first.child);
  process.kill(dead, 'SIGKILL');
  // A start sent before the controller noticed would fail with that reason (it is not retried: the
  // launcher may have started it before dying); this one comes after.
  await waitFor(() => launcher.pid === undefined, { timeoutMs: 10_000, what: 'the controller to notice the launcher died' });
  assert.ok(isAlive(first.pid), 'its tenant is detached and keeps running');

  await sleeper();
  assert.ok(launcher.pid !== undefined && launcher.pid !== dead, 'a new launcher');
  assert.equal(readProcStartTime(first.pid), first.startTime);
  process.kill(first.pid, 'SIGKILL');
  assert.deepEqual(await exited, { code: null, signal: null }, 'seen through /proc, without a status');
});

test('closing the launcher lets it exit and leaves what it started running (for the next controller)', async (t) => {
  holdLoop(t);
  const { dir, cleanup } = tempDir();
  const launcher = new Launcher();
  let pid: number | undefined;
  t.after(() => {
    if (pid !== undefined && isAlive(pid)) process.kill(-pid, 'SIGKILL');
    cleanup();
  });
  const launched = await new ProcessRuntime({ launcher }).launch(spec(dir, '/bin/sleep', ['60']));
  pid = launched.pid;
  const launcherPid = launcher.pid!;
  launcher.close();
  await waitFor(() => !isAlive(launcherPid), { timeoutMs: 10_000, what: 'the launcher to exit' });
  assert.ok(isAlive(pid), 'the tenant survives');
  await assert.rejects(new ProcessRuntime({ launcher }).launch(spec(dir, '/bin/true', [])), /the launcher is closed/);
});

test('a short command (nft) runs to its end in the launcher: input on stdin, exit code and stderr back', async (t) => {
  const launcher = new Launcher();
  t.after(() => launcher.close());
  assert.deepEqual(await launcher.run('/bin/sh', ['-c', 'read line; [ "$line" = "add element" ]'], 'add element\n', 10_000), {
    code: 0,
    signal: null,
    stderr: '',
    error: undefined,
  });
  const failed = await launcher.run('/bin/sh', ['-c', 'echo "Error: no such table" >&2; exit 1'], '', 10_000);
  assert.deepEqual([failed.code, failed.stderr], [1, 'Error: no such table\n']);
  const missing = await launcher.run('/no/such/nft', ['-f', '-'], '', 10_000);
  assert.equal(missing.code, null);
  assert.match(missing.error ?? '', /ENOENT/);
  const slow = await launcher.run('/bin/sleep', ['30'], '', 100);
  assert.deepEqual([slow.code, slow.signal], [null, 'SIGTERM'], 'killed at its timeout');
});

test('a launcher that is going away does not take its successor down with it (starts sent to the new one, their exits)', async (t) => {
  const { launcher, sleeper } = sleepers(t);
  const first = await sleeper();
  const old = launcher.pid!;
  // Disconnected but not yet exited: the next start forks a successor at once.
  (launcher as unknown as { proc: ChildProcess }).proc.disconnect();
  const second = await sleeper();
  assert.notEqual(launcher.pid, old);
  await waitFor(() => !isAlive(old), { timeoutMs: 10_000, what: 'the old launcher to exit' });
  assert.equal(launcher.pid !== undefined && launcher.pid !== old, true, 'the successor is still the launcher');
  const secondExit = exitOf(second.child);
  process.kill(second.pid, 'SIGKILL');
  assert.deepEqual(await secondExit, { code: null, signal: 'SIGKILL' }, "the successor's child exit is still reported by it, with its status");
  const firstExit = exitOf(first.child);
  process.kill(first.pid, 'SIGKILL');
  assert.deepEqual(await firstExit, { code: null, signal: null }, "the old launcher's child is watched through /proc");
});
