import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdoption, type AdoptionDecision } from '../../src/supervisor/adoption.js';
import type { InstanceRecord } from '../../src/store/types.js';

type Row = Pick<InstanceRecord, 'desired' | 'observed' | 'pid'>;

test('what a starting controller does with each row an earlier controller left', () => {
  const table: Array<[string, Row, { serviceConfigured: boolean; alive: boolean }, AdoptionDecision]> = [
    ['service gone from the config', { desired: 'running', observed: 'running', pid: 10 }, { serviceConfigured: false, alive: true }, { action: 'leave-orphan' }],
    ['service gone, process gone', { desired: 'running', observed: 'running', pid: 10 }, { serviceConfigured: false, alive: false }, { action: 'leave-orphan' }],
    ['running and alive', { desired: 'running', observed: 'running', pid: 10 }, { serviceConfigured: true, alive: true }, { action: 'adopt' }],
    ['alive while starting', { desired: 'running', observed: 'starting', pid: 10 }, { serviceConfigured: true, alive: true }, { action: 'adopt' }],
    [
      'alive but meant asleep (died mid-sleep)',
      { desired: 'asleep', observed: 'stopping', pid: 10 },
      { serviceConfigured: true, alive: true },
      { action: 'finish-stop', observed: 'asleep' },
    ],
    [
      'alive but meant stopped (died mid-stop)',
      { desired: 'stopped', observed: 'stopping', pid: 10 },
      { serviceConfigured: true, alive: true },
      { action: 'finish-stop', observed: 'stopped' },
    ],
    ['stopped by ten down', { desired: 'running', observed: 'stopped', pid: null }, { serviceConfigured: true, alive: false }, { action: 'start' }],
    [
      'died while away',
      { desired: 'running', observed: 'running', pid: 10 },
      { serviceConfigured: true, alive: false },
      { action: 'treat-as-exit', reason: 'process 10 is gone (or its pid was reused)' },
    ],
    [
      'was in backoff, no process',
      { desired: 'running', observed: 'backoff', pid: null },
      { serviceConfigured: true, alive: false },
      { action: 'treat-as-exit', reason: 'was not running' },
    ],
    ['failed stays failed', { desired: 'running', observed: 'failed', pid: null }, { serviceConfigured: true, alive: false }, { action: 'nothing' }],
    ['asleep stays asleep', { desired: 'asleep', observed: 'asleep', pid: null }, { serviceConfigured: true, alive: false }, { action: 'nothing' }],
    ['asleep, row left stopping', { desired: 'asleep', observed: 'stopping', pid: 10 }, { serviceConfigured: true, alive: false }, { action: 'mark-asleep' }],
    ['stopped stays stopped', { desired: 'stopped', observed: 'stopped', pid: null }, { serviceConfigured: true, alive: false }, { action: 'nothing' }],
  ];
  for (const [what, row, facts, expected] of table) assert.deepEqual(decideAdoption(row, facts), expected, what);
});
