// Router: gate files follow the supervisor's changes, and never open onto a route Caddy still holds
// for a port nobody serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { BASELINE } from '../../caddy/features.js';
import { serviceGateName, type CaddyRoute } from '../../caddy/routes.js';
import { parseConfigText } from '../../src/config/load.js';
import type { CaddyTarget } from '../../src/routing/caddy-target.js';
import { Gates } from '../../src/routing/gates.js';
import { Router } from '../../src/routing/router.js';
import type { InstanceRecord } from '../../src/store/types.js';
import type { Supervisor } from '../../src/supervisor/supervisor.js';
import type { InstanceKey } from '../../src/util/instance-key.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const config = parseConfigText('[service.api]\ncommand = "x"\n', '/nowhere/tenement.toml').config;

const running = (id: string, port: number) => ({ service: 'api', id, port, weight: 100, observed: 'running' }) as InstanceRecord;

/** The supervisor as the router sees it: records and their change events. */
class FakeSupervisor extends EventEmitter {
  records: InstanceRecord[] = [];
  list = () => this.records;
  get = (k: InstanceKey) => this.records.find((r) => r.service === k.service && r.id === k.id);
  routeInputs = () => this.records.map((r) => ({ service: r.service, id: r.id, port: r.port, weight: r.weight }));
}

/** A Caddy whose next write can be held back, as a slow reload would. */
function slowTarget() {
  let release: (() => void) | undefined;
  let hold = false;
  const target = {
    admin: undefined as never,
    describe: 'fake',
    held: undefined as CaddyRoute | undefined,
    read: async () => target.held,
    write: async (route: CaddyRoute) => {
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      target.held = route;
    },
    holdNext: () => (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
  return target;
}

test('a removed instance keeps its gate (and its service gate) closed until Caddy holds a tree without it', async () => {
  const { dir, cleanup } = tempDir('tenement-router-');
  const supervisor = new FakeSupervisor();
  supervisor.records = [running('alice', 30001), running('bob', 30002)];
  const gates = new Gates(path.join(dir, 'gates'));
  const target = slowTarget();
  const router = new Router({
    supervisor: supervisor as unknown as Supervisor,
    config: () => config,
    domain: 'example.com',
    controllerDial: () => '127.0.0.1:8080',
    gates,
    target: target as CaddyTarget,
    features: BASELINE,
    wakeKey: 'k',
    log: silentLogger,
  });
  try {
    router.start();
    await router.pushNow();
    const both = serviceGateName('api', ['api.alice', 'api.bob']);
    assert.deepEqual(fs.readdirSync(gates.dir), [], 'all serving: no gate closed');

    target.holdNext();
    supervisor.records = [supervisor.records[0]!];
    supervisor.emit('change', { service: 'api', id: 'bob', removed: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(gates.isClosed('api', 'bob'), true, "Caddy's tree still routes to bob");
    assert.equal(gates.isServiceGateClosed(both), true, 'so service requests are held by the controller');

    target.release();
    await router.pushNow();
    assert.equal(gates.isClosed('api', 'bob'), false, 'opened once the new tree is in Caddy');
    assert.deepEqual(fs.readdirSync(gates.dir), [], 'the old service gate is gone, the new one (alice only) is open');
  } finally {
    router.stop();
    cleanup();
  }
});
