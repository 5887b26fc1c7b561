// Hardening #7 on a real small file system: a tmpfs this test mounts (and unmounts) as the data
// dir. A chatty tenant's captured output is capped by log_file_max_mb; a full disk shows in
// /health (degraded, disk part not ok) and in the metrics, while the API keeps answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import { Controller } from '../../src/controller/controller.js';
import { issueToken } from '../../src/auth/tokens.js';
import { openDatabase } from '../../src/store/database.js';
import { TokenStore } from '../../src/store/token-store.js';
import { LogStore } from '../../src/store/log-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { freePort } from '../helpers/controller-process.js';
import { killAllMentioning, pidRunning } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';
import { tenantConfig } from '../helpers/tenant-config.js';

const MB = 1024 * 1024;

test('a capped log file and a full disk on a small tmpfs: /health and /metrics show it, the API keeps serving', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const { dir, cleanup } = tempDir('tenement-disk-');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0755', 'tmpfs', dataDir]);
  let controller: Controller | undefined;
  try {
    const configFile = path.join(dir, 'tenement.toml');
    fs.writeFileSync(configFile, tenantConfig(dataDir, { instances: { api: ['alice'] }, settings: 'log_file_max_mb = 1\ndisk_min_free_mb = 8\nlog_retention_mb = 64' }));
    const port = await freePort();
    controller = await Controller.start({ configFile, host: '127.0.0.1', port, domain: 'localhost', caddy: { mode: 'none' }, log: silentLogger });
    const { db } = openDatabase(dataDir);
    const admin = issueToken(new TokenStore(db), { tenant: null }).token;
    const api = got.extend({ prefixUrl: `http://127.0.0.1:${port}`, throwHttpErrors: false, retry: { limit: 0 }, headers: { authorization: `Bearer ${admin}` } });
    const health = async () => JSON.parse((await api.get('health')).body) as { status: string; parts: Record<string, { ok: boolean; detail?: string }> };
    assert.equal((await health()).parts.disk?.ok, true, (await health()).parts.disk?.detail);

    // A chatty tenant: 3 MB of output, then a marker line.
    const alice = controller.supervisor.get({ service: 'api', id: 'alice' })!;
    const stdout = path.join(dataDir, '_logs', 'api', 'alice.stdout.log');
    for (let i = 0; i < 3; i++) await got(`http://127.0.0.1:${alice.port}/__control/print?bytes=${MB}`);
    await got(`http://127.0.0.1:${alice.port}/__control/print?mark=after-the-flood`);
    const logs = new LogStore(db);
    await waitFor(() => logs.query({ search: '"after the flood"', limit: 1 }).length === 1, { timeoutMs: 30_000, what: 'the marker line indexed' });
    await waitFor(() => fs.statSync(stdout).size < MB, { timeoutMs: 10_000, what: `${stdout} emptied below log_file_max_mb` });
    assert.ok(logs.query({ search: 'filler', instance: 'alice', limit: 10 }).length === 10, 'the lines are in the store');
    // The tenant keeps writing to the same (now small) file.
    await got(`http://127.0.0.1:${alice.port}/__control/print?mark=still-captured`);
    await waitFor(() => logs.query({ search: '"still captured"', limit: 1 }).length === 1, { timeoutMs: 10_000, what: 'output after the cap captured' });
    db.close();

    // Fill the file system until it refuses.
    const filler = path.join(dataDir, 'filler.bin');
    const fd = fs.openSync(filler, 'w');
    try {
      const block = Buffer.alloc(256 * 1024, 1);
      for (;;) fs.writeSync(fd, block);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    const full = await health();
    assert.equal(full.status, 'degraded');
    assert.equal(full.parts.disk?.ok, false);
    assert.match(full.parts.disk?.detail ?? '', /MB free of .*below disk_min_free_mb \(8 MB\)/);
    assert.deepEqual(JSON.parse((await got(`http://127.0.0.1:${port}/health`, { throwHttpErrors: false })).body), { status: 'degraded' }, 'anonymous: the status only');
    const metrics = (await api.get('metrics')).body;
    const free = Number(/^tenement_data_dir_free_bytes (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(free < 8 * MB, `free bytes in metrics: ${free}`);
    assert.equal((await api.get('api/instances')).statusCode, 200, 'reads are still served');

    fs.rmSync(filler);
    await waitFor(async () => (await health()).status === 'ok', { timeoutMs: 5000, what: 'health ok again' });
  } finally {
    await controller?.supervisor.stopAll().catch(() => undefined);
    await controller?.close().catch(() => undefined);
    // What was killed must be gone before the tmpfs can be unmounted; a failure here must not hide
    // the test's own (a lazy unmount still frees the mount point).
    const killed = killAllMentioning(dir);
    await waitFor(() => killed.every((pid) => !pidRunning(pid)), { timeoutMs: 10_000, what: 'leftover processes to die' }).catch(() => undefined);
    try {
      execFileSync('umount', [dataDir]);
    } catch {
      execFileSync('umount', ['-l', dataDir]);
    }
    cleanup();
  }
});
