import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { directorySize, StorageMeter } from '../../src/storage/storage-meter.js';
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
    const meter = new StorageMeter({ config: () => config, instances: () => [{ service: 'api', id: 'a' }], log });
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
