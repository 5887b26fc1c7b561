import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { directorySize, type MeteredInstance, StorageMeter } from '../../src/storage/storage-meter.js';
import type { Logger } from '../../src/util/logger.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

test('directory sizes add up files at every depth; a missing folder is 0', async () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'x'), 'hello');
    fs.writeFileSync(path.join(dir, 'a', 'b', 'y'), Buffer.alloc(1000));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'link'));
    assert.equal(await directorySize(dir), 1005);
    assert.equal(await directorySize(path.join(dir, 'nope')), 0);
  } finally {
    cleanup();
  }
});

test('the meter keeps the last measurement, reports over quota and warns once per crossing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'tenement.toml');
    const { config } = parseConfigText(`[settings]\ndata_dir = "data"\n[service.api]\ncommand = "x"\nstorage_quota_mb = 1\n`, file);
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (msg: string) => void warnings.push(msg), child: () => log };
    const meter = new StorageMeter({ config: () => config, instances: () => [{ service: 'api', id: 'a', pid: 1, startedAt: 0 }], log });
    assert.equal(meter.usage('api', 'a'), null, 'nothing before the first pass');
    const inst = path.join(config.settings.data_dir, 'api', 'a');
    fs.mkdirSync(inst, { recursive: true });
    fs.writeFileSync(path.join(inst, 'small'), 'x');
    await meter.measureAll();
    assert.equal(meter.usage('api', 'a')?.used_bytes, 1);
    assert.equal(meter.usage('api', 'a')?.over_quota, false);
    fs.writeFileSync(path.join(inst, 'big'), Buffer.alloc(2 * 1024 * 1024));
    await meter.measureAll();
    await meter.measureAll();
    const u = meter.usage('api', 'a')!;
    assert.deepEqual([u.quota_bytes, u.over_quota, u.path], [1024 * 1024, true, inst]);
    assert.ok(u.usage_percent! >= 200);
    assert.equal(warnings.filter((w) => /over its storage quota/.test(w)).length, 1, 'one warning per crossing');
  } finally {
    cleanup();
  }
});

test('a pass skips instances that have not run since their last measurement (sleeping ones cost nothing)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { config } = parseConfigText(`[settings]\ndata_dir = "data"\n[service.api]\ncommand = "x"\n`, path.join(dir, 'tenement.toml'));
    const inst = path.join(config.settings.data_dir, 'api', 'a');
    fs.mkdirSync(inst, { recursive: true });
    fs.writeFileSync(path.join(inst, 'f'), 'x');
    const now: MeteredInstance = { service: 'api', id: 'a', pid: null, startedAt: null };
    const meter = new StorageMeter({ config: () => config, instances: () => [now], log: silentLogger });
    const used = () => meter.usage('api', 'a')?.used_bytes;
    await meter.measureAll();
    assert.equal(used(), 1, 'measured once, asleep');
    // Changed behind its back (nothing of the tenant's could do that while it sleeps): not walked again.
    fs.writeFileSync(path.join(inst, 'f'), 'xx');
    await meter.measureAll();
    assert.equal(used(), 1, 'an instance that has not run is not walked again');
    // Running: measured at every pass, and once more after it stopped. Started a while ago: a start
    // in the same millisecond as a later measurement would count as "ran since" it (>=, on purpose).
    Object.assign(now, { pid: 4242, startedAt: Date.now() - 1000 });
    await meter.measureAll();
    assert.equal(used(), 2);
    fs.writeFileSync(path.join(inst, 'f'), 'xxx');
    Object.assign(now, { pid: null });
    await meter.measureAll();
    assert.equal(used(), 3, 'the pass after it stopped sees what it wrote last');
    fs.writeFileSync(path.join(inst, 'f'), 'xxxx');
    await meter.measureAll();
    assert.equal(used(), 3, 'then it is left alone');
    // Woken and put back to sleep between two passes: its start is newer than the measurement.
    Object.assign(now, { startedAt: Date.now() + 1 });
    await meter.measureAll();
    assert.equal(used(), 4);
  } finally {
    cleanup();
  }
});
