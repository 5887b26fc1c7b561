// ControllerControlPlane.resources: limits come from the config; usage is read from the instance's
// cgroup only while it runs (asleep and stopped instances are never read: issue 9's idle cost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { ControllerControlPlane, type ControlPlaneDeps, type ResourceMeter } from '../../src/controller/control-plane.js';
import type { InstanceRecord } from '../../src/store/types.js';
import type { InstanceKey } from '../../src/util/instance-key.js';
import { silentLogger } from '../../src/util/logger.js';

test('resources: config limits always, cgroup usage only for a running instance with a process', () => {
  const text = `[settings]\ndata_dir = "/var/lib/t"\n\n[service.api]\ncommand = "app"\nmemory_limit_mb = 128\ncpu_shares = 50\n\n` + `[service.plain]\ncommand = "app"\n`;
  const config = parseConfigText(text, '/etc/tenement/tenement.toml').config;
  const reads: string[] = [];
  const usage: ResourceMeter = {
    memoryBytes: (k: InstanceKey) => (reads.push(`memory ${k.service}:${k.id}`), 64 * 1024 * 1024),
    cpuSeconds: (k: InstanceKey) => (reads.push(`cpu ${k.service}:${k.id}`), 1.25),
  };
  const deps = { config: () => config, usage, log: silentLogger } as unknown as ControlPlaneDeps;
  const control = new ControllerControlPlane(deps);
  const rec = (service: string, id: string, observed: string, pid: number | null) => ({ service, id, observed, pid }) as unknown as InstanceRecord;

  assert.deepEqual(control.resources(rec('api', 'a', 'running', 123)), {
    memoryUsedBytes: 64 * 1024 * 1024,
    memoryLimitBytes: 128 * 1024 * 1024,
    cpuTimeSecs: 1.25,
    cpuShares: 50,
  });
  assert.deepEqual(reads, ['memory api:a', 'cpu api:a']);

  reads.length = 0;
  for (const observed of ['asleep', 'stopped', 'backoff', 'failed']) {
    assert.deepEqual(control.resources(rec('api', 'b', observed, null)), { memoryUsedBytes: null, memoryLimitBytes: 128 * 1024 * 1024, cpuTimeSecs: null, cpuShares: 50 });
  }
  assert.deepEqual(reads, [], 'no cgroup read for instances without a running process');

  assert.deepEqual(control.resources(rec('plain', 'c', 'running', 7)), { memoryUsedBytes: 64 * 1024 * 1024, memoryLimitBytes: null, cpuTimeSecs: 1.25, cpuShares: null });
});
