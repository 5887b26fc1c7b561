import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeRegistry } from '../../src/supervisor/runtime/registry.js';
import { ProcessRuntime } from '../../src/supervisor/runtime/process.js';
import { LaunchError } from '../../src/supervisor/runtime/runtime.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../../src/util/wait.js';

test('the registry hands out one runtime per isolation value', () => {
  const runtimes = new RuntimeRegistry();
  const runtime = runtimes.for('process');
  assert.ok(runtime instanceof ProcessRuntime);
  assert.equal(runtime.name, 'process');
  assert.equal(runtimes.for('process'), runtime);
});

test('the process runtime launches detached with output in files, and stops the whole group', async () => {
  const { dir, cleanup } = tempDir();
  const runtime = new ProcessRuntime();
  let pid: number | undefined;
  try {
    const spec = {
      file: process.execPath,
      // A child in the same group proves the stop reaches what the process started.
      args: ['-e', `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log('up'); setInterval(() => {}, 1000);`],
      env: { PATH: process.env.PATH },
      cwd: dir,
      stdoutLog: path.join(dir, 'logs', 'out.log'),
      stderrLog: path.join(dir, 'logs', 'err.log'),
    };
    const launched = await runtime.launch(spec);
    pid = launched.pid;
    assert.ok(launched.pid > 0);
    assert.equal(typeof launched.startTime, 'string');
    await waitFor(() => fs.readFileSync(spec.stdoutLog, 'utf8').includes('up'), { timeoutMs: 10_000, what: 'output in the log file' });
    assert.equal(runtime.alive(launched.pid), true);
    const { killed } = await runtime.stop(launched.pid, 5000);
    assert.equal(killed, false);
    assert.equal(runtime.alive(launched.pid), false, 'nothing of the group is left');
  } finally {
    if (pid !== undefined && runtime.alive(pid)) runtime.kill(pid);
    cleanup();
  }
});

test('a command that does not exist is a LaunchError naming it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const err = await new ProcessRuntime()
      .launch({ file: 'no-such-command-xyz', args: [], env: { PATH: '/usr/bin' }, cwd: dir, stdoutLog: path.join(dir, 'o'), stderrLog: path.join(dir, 'e') })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof LaunchError);
    assert.equal(err.code, 'ENOENT');
    assert.match(err.message, /command "no-such-command-xyz" not found/);
  } finally {
    cleanup();
  }
});
