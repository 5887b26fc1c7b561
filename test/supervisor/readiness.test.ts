import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeResult } from '../../src/supervisor/health-probe.js';
import { waitReady } from '../../src/supervisor/readiness.js';

const refused: ProbeResult = { ok: false, detail: 'TCP connect failed: ECONNREFUSED' };

test('with a health path: TCP connects until the port accepts, then HTTP checks until one passes', async () => {
  const calls: string[] = [];
  let connects = 0;
  let gets = 0;
  await waitReady(
    { port: 1, health: '/health', startupTimeoutS: 60, exited: () => false },
    Date.now,
    async () => {
      calls.push('get');
      return ++gets < 2 ? { ok: false, detail: 'GET /health -> 503' } : { ok: true, detail: 'GET /health -> 200' };
    },
    async () => {
      calls.push('connect');
      return ++connects < 3 ? refused : { ok: true, detail: 'TCP connect ok' };
    },
  );
  assert.deepEqual(calls, ['connect', 'connect', 'connect', 'get', 'get'], 'no HTTP request while the port refuses; none after one passed');
});

test('without a health path the TCP connect is the check; a timeout names the last failure', async () => {
  let t = 0;
  const calls: string[] = [];
  await assert.rejects(
    waitReady(
      { port: 1, health: undefined, startupTimeoutS: 1, exited: () => false },
      () => (t += 300),
      async () => {
        calls.push('probe');
        return refused;
      },
      async () => {
        calls.push('connect');
        return refused;
      },
    ),
    /not healthy within startup_timeout \(1 s\): last check TCP connect failed: ECONNREFUSED/,
  );
  assert.ok(calls.length > 0 && calls.every((c) => c === 'probe'), 'the service probe (a TCP connect) is used, not a second connect');
});
