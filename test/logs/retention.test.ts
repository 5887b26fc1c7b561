import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogRetention, retentionPolicy } from '../../src/logs/retention.js';
import { openDatabase } from '../../src/store/database.js';
import { LogStore } from '../../src/store/log-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('LogRetention', () => {
  it('turns settings into a policy (0 days = no age limit)', () => {
    assert.deepEqual(retentionPolicy({ log_retention_days: 0, log_retention_mb: 1 }, 5), { now: 5, maxBytes: 1024 * 1024 });
    assert.deepEqual(retentionPolicy({ log_retention_days: 2, log_retention_mb: 0 }, 5), { now: 5, maxAgeMs: 2 * 86_400_000 });
  });

  it('deletes lines older than the configured days, reading settings at each run', async () => {
    const { dir, cleanup } = tempDir('tenement-retention-');
    const { db } = openDatabase(dir);
    try {
      const store = new LogStore(db);
      const now = Date.parse('2026-03-10T00:00:00Z');
      const day = 86_400_000;
      store.append([5, 3, 1].map((d) => ({ service: 'a', instance: 'b', stream: 'stdout' as const, level: 'info' as const, at: now - d * day, text: `${d} days old` })));
      const settings = { log_retention_days: 4, log_retention_mb: 256 };
      const retention = new LogRetention({ store, settings: () => settings, log: silentLogger, now: () => now });
      assert.equal(await retention.runOnce(), 1);
      settings.log_retention_days = 2;
      assert.equal(await retention.runOnce(), 1);
      assert.deepEqual(
        store.query({ limit: 10 }).map((l) => l.text),
        ['1 days old'],
      );
      retention.start();
      await retention.stop();
    } finally {
      db.close();
      cleanup();
    }
  });
});
