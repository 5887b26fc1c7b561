// docs/upgrading.md, checked: the version checks, and rolling back to a version that does not know
// the database schema or config keys the newer one left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import got from 'got';
import { runTen, startController } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { killAllMentioning } from '../helpers/processes.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { CURRENT_SCHEMA_VERSION } from '../../src/store/migrations.js';
import { VERSION } from '../../src/version.js';

test('upgrading guide: version checks, then rollback past a newer database schema and unknown config keys', async () => {
  const { dir, cleanup } = tempDir('tenement-rollback-');
  const dataDir = path.join(dir, 'data');
  const config = path.join(dir, 'tenement.toml');
  const log = path.join(dir, 'controller.log');
  fs.writeFileSync(
    config,
    `[settings]
data_dir = "data"
${portRange().toml}
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"
`,
  );
  try {
    // "Check the version and the config first"
    assert.equal((await runTen(['--version'])).stdout.trim(), `tenement ${VERSION}`);
    assert.equal((await runTen(['config', '--config', config])).code, 0);
    const ctl = await startController({ config, logFile: log });
    const gen = await runTen(['token-gen', '--data-dir', dataDir, '--json'], { env: { TENEMENT_CONFIG: '' } });
    assert.equal(gen.code, 0, gen.stderr);
    const adminToken = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const health = await got(`http://127.0.0.1:${ctl.port}/health`, { headers: { authorization: `Bearer ${adminToken}` } }).json<{ version: string }>();
    assert.equal(health.version, VERSION, '/health reports the running version');
    await ctl.stop('SIGTERM');

    // A newer tenement migrated the database (schema +1) after backing it up.
    const db = path.join(dataDir, 'tenement.db');
    fs.copyFileSync(db, path.join(dataDir, `tenement.db.v${CURRENT_SCHEMA_VERSION}.bak`));
    const handle = new Database(db);
    handle.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 1}`);
    handle.close();
    // ...and its config uses a key this version does not know.
    fs.appendFileSync(config, 'cpu_quota = 5\n');

    const refused = await startController({ config, logFile: path.join(dir, 'refused.log'), waitReady: false });
    const exit = await refused.exited;
    assert.notEqual(exit.code, 0, 'the older version refuses the newer database');
    const message = refused.log();
    assert.match(message, new RegExp(`schema version ${CURRENT_SCHEMA_VERSION + 1}`));
    assert.match(message, new RegExp(`supports schema versions up to ${CURRENT_SCHEMA_VERSION}`));
    const cp = /^\s*(cp .+ && cp .+)$/m.exec(message);
    assert.ok(cp, `the message gives the restore command:\n${message}`);
    assert.match(cp[1]!, new RegExp(`tenement\\.db\\.v${CURRENT_SCHEMA_VERSION}\\.bak`));

    execFileSync('sh', ['-c', cp[1]!]);
    const back = await startController({ config, logFile: path.join(dir, 'back.log') });
    assert.match(back.log(), /service\.api\.cpu_quota: unknown key/, 'the unknown key is named, not fatal');
    await back.stop('SIGTERM');
    assert.equal((await runTen(['down', '--config', config])).code, 0);
  } finally {
    killAllMentioning(dir);
    cleanup();
  }
});
