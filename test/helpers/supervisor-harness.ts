// An in-process supervisor on a real store and real tenant processes, in a temp dir that marks every
// process it starts (DATA_DIR points inside it), so clean-up can find and kill them by pid.
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { openDatabase } from '../../src/store/database.js';
import { InstanceStore } from '../../src/store/instance-store.js';
import { Supervisor, type SupervisorOptions } from '../../src/supervisor/supervisor.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from './temp-dir.js';
import { killAllMentioning, pidsMentioning, removeCgroupsOf } from './processes.js';
import { TENANT_APP } from './paths.js';

export interface Harness {
  dir: string;
  dataDir: string;
  config: Config;
  store: InstanceStore;
  supervisor: Supervisor;
  /** Detaches the supervisor (as a controller exit would) and opens a new one on the same data dir. */
  restartController(): Promise<Supervisor>;
}

/** `node tenant.mjs` with env: the default command of test services. */
export const TENANT_COMMAND = `${JSON.stringify(process.execPath)} ${JSON.stringify(TENANT_APP)}`;

export async function withSupervisor(toml: (dataDir: string) => string, fn: (h: Harness) => Promise<void>, extra: Partial<SupervisorOptions> = {}): Promise<void> {
  const { dir, cleanup } = tempDir();
  const dataDir = path.join(dir, 'data');
  const file = path.join(dir, 'tenement.toml');
  fs.writeFileSync(file, toml(dataDir));
  const { config } = parseConfigText(fs.readFileSync(file, 'utf8'), file);
  let opened = openDatabase(dataDir);
  let store = new InstanceStore(opened.db);
  let supervisor = new Supervisor({ config, store, log: silentLogger, exitPollMs: 50, ...extra });
  const h: Harness = {
    dir,
    dataDir,
    config,
    get store() {
      return store;
    },
    get supervisor() {
      return supervisor;
    },
    async restartController() {
      supervisor.detach();
      opened.db.close();
      opened = openDatabase(dataDir);
      store = new InstanceStore(opened.db);
      supervisor = new Supervisor({ config, store, log: silentLogger, exitPollMs: 50, ...extra });
      await supervisor.start();
      return supervisor;
    },
  };
  let passed = false;
  try {
    await supervisor.start();
    await fn(h);
    passed = true;
  } finally {
    // Stop what the test started, gracefully, then make sure nothing of it is left.
    await supervisor.stopAll().catch(() => undefined);
    supervisor.detach();
    opened.db.close();
    const leftovers = pidsMentioning(dir);
    killAllMentioning(dir);
    removeCgroupsOf(dataDir);
    cleanup();
    if (passed) assert.deepEqual(leftovers, [], `processes left behind after stopAll: ${leftovers.join(', ')}`);
  }
}
