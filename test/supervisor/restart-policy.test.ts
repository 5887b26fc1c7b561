import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAfterExit, decideRestart, exitFailed, restartReason } from '../../src/supervisor/restart-policy.js';
import type { ExitInfo } from '../../src/supervisor/exit-watch.js';
import type { RestartPolicy } from '../../src/config/types.js';

const clean: ExitInfo = { code: 0, signal: null, known: true };
const crashed: ExitInfo = { code: 3, signal: null, known: true };
const killed: ExitInfo = { code: null, signal: 'SIGKILL', known: true };
const unknown: ExitInfo = { code: null, signal: null, known: false };

test('an exit is a failure unless it is a known exit with code 0', () => {
  const table: Array<[ExitInfo, boolean]> = [
    [clean, false],
    [crashed, true],
    [killed, true],
    // An adopted process's status cannot be known: it counts as a failure.
    [unknown, true],
  ];
  for (const [info, failed] of table) assert.equal(exitFailed(info), failed, JSON.stringify(info));
});

test('after an exit: always restarts, on-failure restarts failures only, never stops (failed or stopped)', () => {
  const table: Array<[RestartPolicy, ExitInfo, ReturnType<typeof decideAfterExit>]> = [
    ['always', clean, { restart: true, failed: false }],
    ['always', crashed, { restart: true, failed: true }],
    ['on-failure', crashed, { restart: true, failed: true }],
    ['on-failure', killed, { restart: true, failed: true }],
    ['on-failure', unknown, { restart: true, failed: true }],
    ['on-failure', clean, { restart: false, failed: false, observed: 'stopped', lastError: null }],
    ['never', clean, { restart: false, failed: false, observed: 'stopped', lastError: null }],
    ['never', crashed, { restart: false, failed: true, observed: 'failed', lastError: 'exited with code 3 (restart = "never")' }],
    ['never', killed, { restart: false, failed: true, observed: 'failed', lastError: 'killed by SIGKILL (restart = "never")' }],
  ];
  for (const [policy, info, expected] of table) assert.deepEqual(decideAfterExit(info, policy), expected, `${policy} ${JSON.stringify(info)}`);
});

test('restart delay: 0 for the first in the window, then doubling up to the cap; failed at max_restarts', () => {
  const s = { max_restarts: 5, restart_window: 300, backoff_base_ms: 1000, backoff_max_ms: 3000 };
  const table: Array<[number, ReturnType<typeof decideRestart>]> = [
    [0, { action: 'restart', delayMs: 0, attempt: 1 }],
    [1, { action: 'restart', delayMs: 1000, attempt: 2 }],
    [2, { action: 'restart', delayMs: 2000, attempt: 3 }],
    [3, { action: 'restart', delayMs: 3000, attempt: 4 }],
    [4, { action: 'restart', delayMs: 3000, attempt: 5 }],
    [5, { action: 'give-up', message: '5 restarts within 300 s (max_restarts = 5); last: boom' }],
    [9, { action: 'give-up', message: '9 restarts within 300 s (max_restarts = 5); last: boom' }],
  ];
  for (const [recent, expected] of table) assert.deepEqual(decideRestart(recent, s, 'boom'), expected, `${recent} recent restarts`);
  assert.deepEqual(decideRestart(0, { ...s, max_restarts: 0 }, 'x').action, 'give-up', 'max_restarts = 0 never restarts');
});

test('the restart reason is the first line of a spawn error', () => {
  assert.equal(restartReason('api:a failed to start: exited\nlast output of api:a:\n  boom'), 'api:a failed to start: exited');
  assert.equal(restartReason('unhealthy: GET /health -> 500'), 'unhealthy: GET /health -> 500');
  assert.equal(restartReason('\nonly later lines'), '\nonly later lines');
});
