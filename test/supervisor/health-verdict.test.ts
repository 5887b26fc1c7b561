import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeHealth, UNHEALTHY_AFTER, type HealthVerdict } from '../../src/supervisor/health-loop.js';
import type { InstanceRecord } from '../../src/store/types.js';
import type { RestartPolicy } from '../../src/config/types.js';

type Row = Pick<InstanceRecord, 'health' | 'observed' | 'healthFailures'>;
const pass = { ok: true, detail: 'GET /health -> 200' };
const fail = { ok: false, detail: 'GET /health -> 500' };

test('one probe result judged against the row and the restart policy', () => {
  assert.equal(UNHEALTHY_AFTER, 3);
  const table: Array<[string, Row, typeof pass, RestartPolicy, HealthVerdict]> = [
    ['healthy stays healthy, nothing written', { health: 'healthy', observed: 'running', healthFailures: 0 }, pass, 'on-failure', { state: 'healthy', patch: undefined }],
    [
      'degraded recovers',
      { health: 'degraded', observed: 'running', healthFailures: 2 },
      pass,
      'on-failure',
      { state: 'healthy', patch: { health: 'healthy', healthFailures: 0, observed: 'running' } },
    ],
    [
      'first failure',
      { health: 'healthy', observed: 'running', healthFailures: 0 },
      fail,
      'on-failure',
      { state: 'degraded', failures: 1, patch: { health: 'degraded', healthFailures: 1, lastError: fail.detail } },
    ],
    [
      'second failure',
      { health: 'degraded', observed: 'running', healthFailures: 1 },
      fail,
      'always',
      { state: 'degraded', failures: 2, patch: { health: 'degraded', healthFailures: 2, lastError: fail.detail } },
    ],
    [
      'third failure restarts',
      { health: 'degraded', observed: 'running', healthFailures: 2 },
      fail,
      'on-failure',
      { state: 'unhealthy', failures: 3, patch: { health: 'unhealthy', healthFailures: 3, lastError: `unhealthy: ${fail.detail}` }, restart: true },
    ],
    [
      'third failure under never keeps it running',
      { health: 'degraded', observed: 'running', healthFailures: 2 },
      fail,
      'never',
      { state: 'unhealthy', failures: 3, patch: { health: 'unhealthy', healthFailures: 3, lastError: `unhealthy: ${fail.detail}` }, restart: false },
    ],
    [
      'still unhealthy under never',
      { health: 'unhealthy', observed: 'running', healthFailures: 7 },
      fail,
      'never',
      { state: 'unhealthy', failures: 8, patch: { health: 'unhealthy', healthFailures: 8, lastError: `unhealthy: ${fail.detail}` }, restart: false },
    ],
  ];
  for (const [what, row, result, policy, expected] of table) assert.deepEqual(judgeHealth(row, result, policy), expected, what);
});
