// Managed Caddy across controller restarts and crashes; batching of config changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tenantConfig } from '../helpers/tenant-config.js';
import { withStack } from '../helpers/stack.js';
import { waitFor } from '../../src/util/wait.js';
import { pidRunning } from '../helpers/processes.js';

const config = (dataDir: string, ids: string[]) => tenantConfig(dataDir, { instances: { api: ids }, healthCheckInterval: 2 });

test('the managed Caddy survives a controller restart: same pid, no config change, routes keep working', async () => {
  await withStack(
    (d) => config(d, ['a', 'b']),
    async (s) => {
      await s.controller.router!.sync.whenInSync();
      const caddyPid = s.controller.managedCaddy!.runningPid()!;
      const tenants = s.controller.supervisor.list().map((r) => r.pid);
      const changes = s.caddyChanges();
      const c = await s.restartController();
      await c.router!.sync.whenInSync();
      assert.equal(c.managedCaddy!.runningPid(), caddyPid, 'Caddy was adopted, not restarted');
      assert.deepEqual(
        c.supervisor.list().map((r) => r.pid),
        tenants,
        'tenants adopted',
      );
      assert.equal(s.caddyChanges(), changes, 'the new controller found its routes in place and pushed nothing');
      assert.equal((await s.request('a.api.localhost')).statusCode, 200);
    },
  );
});

test('a managed Caddy that dies is started again with the current routes', async () => {
  await withStack(
    (d) => config(d, ['a']),
    async (s) => {
      const pid = s.controller.managedCaddy!.runningPid()!;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !pidRunning(pid), { timeoutMs: 5000 });
      const res = await waitFor(
        async () => {
          const r = await s.request('a.api.localhost', '/', { fresh: true }).catch(() => undefined);
          return r?.statusCode === 200 ? r : undefined;
        },
        { timeoutMs: 10_000, what: 'routes served by the restarted Caddy' },
      );
      assert.equal(JSON.parse(res.body).id, 'a');
      assert.notEqual(s.controller.managedCaddy!.runningPid(), pid);
    },
  );
});

test('a burst of 50 spawns costs a handful of Caddy config changes, not 50', async () => {
  await withStack(
    (d) => config(d, []),
    async (s) => {
      await s.controller.router!.sync.whenInSync();
      const before = s.caddyChanges();
      const ids = Array.from({ length: 50 }, (_, i) => `burst${i}`);
      await Promise.all(ids.map((id) => s.controller.control.spawn({ service: 'api', id })));
      await s.controller.router!.sync.flush();
      const changes = s.caddyChanges() - before;
      assert.ok(changes >= 1 && changes <= 5, `${changes} Caddy config changes for 50 spawns`);
      const answers = await Promise.all(ids.map((id) => s.request(`${id}.api.localhost`, '/', { fresh: true })));
      assert.deepEqual(
        answers.map((r) => r.statusCode),
        ids.map(() => 200),
      );
    },
  );
});
