import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeResult } from '../../src/supervisor/health-probe.js';
import { HTTP_RETRY_MS, nextInterval, waitReady } from '../../src/supervisor/readiness.js';

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

test('connects come every <= 2 ms for a lone start, and spread out so many starts together stay near 1,000 probes a second', () => {
  const settle = (n: number) => {
    let i = 1;
    for (let k = 0; k < 30; k++) i = nextInterval(i, n);
    return i;
  };
  assert.equal(nextInterval(1, 1), 1.5);
  assert.equal(settle(1), 2);
  assert.equal(settle(10), 10);
  assert.equal(settle(40), 40);
  assert.equal(settle(100), 50, 'capped: a start in a storm is still seen within 50 ms');
  for (const n of [10, 20, 30, 40]) assert.ok(Math.abs(n / (settle(n) / 1000) - 1000) < 1, `${n} starts: ~1,000 probes/s`);
});

test('a failing HTTP check is repeated no more often than every 10 ms (the app answers each one)', async () => {
  const times: number[] = [];
  let gets = 0;
  await waitReady(
    { port: 1, health: '/health', startupTimeoutS: 60, exited: () => false },
    Date.now,
    async () => {
      times.push(performance.now());
      return ++gets < 4 ? { ok: false, detail: 'GET /health -> 503' } : { ok: true, detail: 'GET /health -> 200' };
    },
    async () => ({ ok: true, detail: 'TCP connect ok' }),
  );
  for (let k = 1; k < times.length; k++) assert.ok(times[k]! - times[k - 1]! >= HTTP_RETRY_MS - 1, `gap ${k}: ${(times[k]! - times[k - 1]!).toFixed(1)} ms`);
});
