import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idleExpired, shouldSleep } from '../../src/supervisor/idle-sleep.js';
import type { InstanceRecord } from '../../src/store/types.js';
import type { ServiceConfig } from '../../src/config/types.js';

const row = (patch: Partial<InstanceRecord>): InstanceRecord => ({
  service: 'api',
  id: 'a',
  port: 30000,
  pid: 1,
  pidStartTime: '1',
  desired: 'running',
  observed: 'running',
  health: 'healthy',
  weight: 100,
  healthFailures: 0,
  restartCount: 0,
  createdAt: 0,
  startedAt: 1_000,
  lastActivityAt: null,
  lastError: null,
  lastExit: null,
  ...patch,
});
const service = (idle_timeout: number) => ({ idle_timeout }) as ServiceConfig;

test('idle is measured from the last request or the start, whichever is later', () => {
  const table: Array<[Partial<InstanceRecord>, number, boolean]> = [
    [{ startedAt: 1_000, lastActivityAt: null }, 60_999, false],
    [{ startedAt: 1_000, lastActivityAt: null }, 61_000, true],
    [{ startedAt: 1_000, lastActivityAt: 30_000 }, 61_000, false],
    [{ startedAt: 1_000, lastActivityAt: 30_000 }, 90_000, true],
    [{ startedAt: 50_000, lastActivityAt: 30_000 }, 90_000, false],
  ];
  for (const [patch, now, expected] of table) assert.equal(idleExpired(row(patch), 60, now), expected, `${JSON.stringify(patch)} at ${now}`);
});

test('only running instances of services with idle_timeout > 0 are put to sleep', () => {
  const now = 1_000_000;
  const table: Array<[string, InstanceRecord, ServiceConfig | undefined, boolean]> = [
    ['idle and running', row({}), service(60), true],
    ['idle_timeout = 0 means never', row({}), service(0), false],
    ['service gone', row({}), undefined, false],
    ['starting', row({ observed: 'starting' }), service(60), false],
    ['being stopped on purpose', row({ desired: 'stopped' }), service(60), false],
    ['already asleep', row({ observed: 'asleep', desired: 'asleep' }), service(60), false],
    ['recent request', row({ lastActivityAt: now - 1000 }), service(60), false],
  ];
  for (const [what, r, svc, expected] of table) assert.equal(shouldSleep(r, svc, now), expected, what);
});
