// Live config reload end to end: a real controller, a real managed Caddy, real tenants, and the
// config file edited on disk the way people edit it (in place, or by an editor's rename-save).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import type { ControlPlane } from '../../src/api/contract.js';
import type { Config } from '../../src/config/types.js';
import { ConfigReloader } from '../../src/controller/config-reload.js';
import { RollingRestarts } from '../../src/controller/rolling-restart.js';
import { serviceJson } from '../../src/api/service-json.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { issueToken } from '../../src/auth/tokens.js';
import { openDatabase } from '../../src/store/database.js';
import { TokenStore } from '../../src/store/token-store.js';
import { startTestApi } from '../api/helpers.js';
import { runTen } from '../helpers/controller-process.js';
import { portRange } from '../helpers/port-range.js';
import { withStack, type Stack } from '../helpers/stack.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';

type Answer = { service: string; id: string; pid: number; env?: string };

function configFor(range: { toml: string }) {
  return (dataDir: string, o: { api?: string[]; env?: string; routing?: string; health?: string } = {}) => `
[settings]
data_dir = ${JSON.stringify(dataDir)}
health_check_interval = 1
stop_timeout = 2
${range.toml}
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = ${o.health ?? '"/health"'}
startup_timeout = 5

[service.api.env]
APP_ENV = ${JSON.stringify(o.env ?? 'one')}

[service.docs]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"

[instances]
api = ${JSON.stringify(o.api ?? ['alice', 'bob'])}
docs = ["main"]
${o.routing ?? ''}
`;
}

/**
 * The controller's reloader. Until the controller wires one in (`controller.reloader`), one is
 * attached here the way the controller would: it sets the controller's config and serves the
 * roll endpoints through the controller's control plane.
 */
async function reloaderOf(s: Stack): Promise<{ reloader: ConfigReloader; wired: boolean; close: () => Promise<void> }> {
  const wired = (s.controller as unknown as { reloader?: ConfigReloader }).reloader;
  if (wired) return { reloader: wired, wired: true, close: async () => undefined };
  const holder = s.controller as unknown as { config: Config };
  const reloader = new ConfigReloader({
    file: s.configFile,
    current: () => s.controller.currentConfig,
    apply: (c) => {
      holder.config = c;
    },
    supervisor: s.controller.supervisor,
    router: s.controller.router,
    log: silentLogger,
  });
  const control = s.controller.control as ControlPlane;
  const rolls = new RollingRestarts({
    current: () => s.controller.currentConfig,
    supervisor: s.controller.supervisor,
    reload: (reason) => reloader.reload(reason),
    closed: () => reloader.closed,
    log: silentLogger,
  });
  control.describeService = (svc) => rolls.describeService(svc);
  control.rollService = (svc) => rolls.rollService(svc);
  await reloader.watch();
  return { reloader, wired: false, close: () => reloader.close() };
}

/** Saves like an editor: write a temp file next to the config, rename it over. */
function renameSave(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Instances of `service` not on its current definition, as GET /api/services/:service says. */
const staleOf = (s: Stack, service: string) => serviceJson((s.controller.control as ControlPlane).describeService!(service)).stale;
const answer = (body: string) => JSON.parse(body) as Answer;
const pids = (s: Stack) => Object.fromEntries(s.controller.supervisor.list().map((r) => [`${r.service}:${r.id}`, r.pid]));

test('a valid edit adding an [instances] id and a [routing.subdomain] entry takes effect without a restart', async () => {
  const config = configFor(portRange());
  await withStack(
    (d) => config(d),
    async (s) => {
      const { reloader, close } = await reloaderOf(s);
      try {
        const controller = s.controller;
        const before = pids(s);
        assert.equal((await s.request('carol.api.localhost')).statusCode, 404);
        assert.equal((await s.request('help.localhost')).statusCode, 404);

        fs.writeFileSync(s.configFile, config(s.dataDir, { api: ['alice', 'bob', 'carol'], routing: '[routing.subdomain]\nhelp = "docs"\n' }));
        const carol = await waitFor(
          async () => {
            // The edit's route change is a Caddy reload, which may reset a connection open at
            // that instant (see traffic.test.ts): such a request is asked again.
            const res = await s.request('carol.api.localhost').catch(() => undefined);
            return res?.statusCode === 200 && answer(res.body);
          },
          { timeoutMs: 20_000, what: 'carol.api.localhost to answer through Caddy' },
        );
        assert.deepEqual([carol.service, carol.id], ['api', 'carol']);
        const help = await waitFor(
          async () => {
            const res = await s.request('help.localhost').catch(() => undefined);
            return res?.statusCode === 200 && answer(res.body);
          },
          { timeoutMs: 20_000, what: 'help.localhost to reach docs' },
        );
        assert.deepEqual([help.service, help.id], ['docs', 'main']);

        assert.equal(s.controller, controller, 'same controller');
        for (const [k, pid] of Object.entries(before)) assert.equal(pids(s)[k], pid, `${k} was not restarted`);
        assert.equal(answer((await s.request('alice.api.localhost')).body).pid, before['api:alice']);
        assert.deepEqual(reloader.status(), { ok: true, detail: s.controller.currentConfig.file });
      } finally {
        await close();
      }
    },
  );
});

test('an invalid edit changes nothing and is reported with file:line; a fixed edit clears the report', async () => {
  const config = configFor(portRange());
  await withStack(
    (d) => config(d),
    async (s) => {
      const { reloader, wired, close } = await reloaderOf(s);
      try {
        const before = pids(s);
        const running = s.controller.currentConfig;
        // `health = 5`: valid TOML, invalid config; and a new instance that must not appear.
        renameSave(s.configFile, config(s.dataDir, { api: ['alice', 'bob', 'zed'], health: '5' }));
        const line = fs.readFileSync(s.configFile, 'utf8').split('\n').indexOf('health = 5') + 1;
        const status = await waitFor(() => !reloader.status().ok && reloader.status(), { timeoutMs: 10_000, what: 'the invalid edit to be reported' });
        assert.match(status.detail, new RegExp(`tenement\\.toml:${line}: service\\.api\\.health: `));
        assert.equal(s.controller.currentConfig, running, 'running config unchanged');
        assert.deepEqual(pids(s), before, 'same pids, nothing spawned');
        assert.equal(s.controller.supervisor.get({ service: 'api', id: 'zed' }), undefined);
        const alice = await s.request('alice.api.localhost');
        assert.equal(alice.statusCode, 200);
        assert.equal(answer(alice.body).pid, before['api:alice'], 'routes still work');
        assert.equal((await s.request('zed.api.localhost')).statusCode, 404);

        if (wired) {
          // The controller reports the config part of /health from the reloader.
          const { db } = openDatabase(s.dataDir);
          const admin = issueToken(new TokenStore(db), { tenant: null }).token;
          db.close();
          const health = await got(`http://127.0.0.1:${s.port}/health`, { throwHttpErrors: false, retry: { limit: 0 }, headers: { authorization: `Bearer ${admin}` } }).json<{
            status: string;
            parts: Record<string, { ok: boolean; detail?: string }>;
          }>();
          assert.equal(health.status, 'degraded');
          assert.equal(health.parts.config?.ok, false);
          assert.match(health.parts.config?.detail ?? '', new RegExp(`tenement\\.toml:${line}: service\\.api\\.health`));
        }
        // `ten config` shows the same problem, read from the file.
        const check = await runTen(['config', '--config', s.configFile, '--quiet']);
        assert.equal(check.code, 2);
        assert.match(check.stderr, new RegExp(`tenement\\.toml:${line}: service\\.api\\.health: `));

        renameSave(s.configFile, config(s.dataDir));
        await waitFor(() => reloader.status().ok, { timeoutMs: 10_000, what: 'the fixed edit to clear the report' });
        assert.deepEqual(pids(s), before);
      } finally {
        await close();
      }
    },
  );
});

test('changed env applies on `ten roll`: one instance at a time, each healthy before the next, no failed request', async () => {
  const config = configFor(portRange());
  await withStack(
    (d) => config(d),
    async (s) => {
      const { close } = await reloaderOf(s);
      try {
        const before = pids(s);
        renameSave(s.configFile, config(s.dataDir, { env: 'two' }));
        await waitFor(() => staleOf(s, 'api') === 2, { timeoutMs: 10_000, what: 'the env edit to be applied' });
        assert.equal(answer((await s.request('alice.api.localhost')).body).env, 'one', 'running instances keep their env until restarted');

        const gen = await runTen(['token-gen', '--data-dir', s.dataDir, '--label', 'roll-test'], { env: { TENEMENT_CONFIG: '' } });
        assert.equal(gen.code, 0, gen.stderr);
        const env = { TENEMENT_SERVER: `http://127.0.0.1:${s.port}`, TENEMENT_CONFIG: '' };
        const plan = await runTen(['roll', 'api', '--dry-run', '--data-dir', s.dataDir], { env });
        assert.equal(plan.code, 0, plan.stderr);
        assert.match(plan.stdout, /^api:alice\s+running\s+healthy\s+100\s+sha256:[0-9a-f]{16}\s+restart$/m);
        assert.match(plan.stderr, /would restart 2 instance\(s\)/);
        assert.deepEqual(pids(s), before, 'a dry run changes nothing');

        // Traffic to the service route and to both instances while the roll runs.
        let stop = false;
        const failures: string[] = [];
        let served = 0;
        const loop = (async () => {
          for (let i = 0; !stop; i++) {
            const host = ['api.localhost', 'alice.api.localhost', 'bob.api.localhost'][i % 3]!;
            const res = await s.request(host, '/', i % 2 ? { method: 'POST', body: `body ${i}` } : {});
            if (res.statusCode !== 200) failures.push(`${host} -> ${res.statusCode} ${res.body.slice(0, 120)}`);
            else served++;
          }
        })();
        const roll = await runTen(['roll', 'api', '--json', '--data-dir', s.dataDir], { env, timeoutMs: 60_000 });
        stop = true;
        await loop;
        assert.equal(roll.code, 0, roll.stderr);
        const result = JSON.parse(roll.stdout) as { restarted: string[]; up_to_date: string[] };
        assert.deepEqual(result.restarted, ['api:alice', 'api:bob']);
        assert.match(roll.stderr, /api rolled onto sha256:[0-9a-f]{16}: restarted api:alice, api:bob/);
        assert.deepEqual(failures, [], `failed requests during the roll (${served} served)`);
        assert.ok(served > 0);

        for (const id of ['alice', 'bob']) {
          const a = answer((await s.request(`${id}.api.localhost`)).body);
          assert.equal(a.env, 'two');
          assert.notEqual(a.pid, before[`api:${id}`]);
        }
        assert.equal(pids(s)['docs:main'], before['docs:main'], 'other services untouched');
        assert.equal(staleOf(s, 'api'), 0);
        const again = await runTen(['roll', 'api', '--data-dir', s.dataDir], { env });
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, /nothing to roll/);
      } finally {
        await close();
      }
    },
  );
});

test('the services API: admin only, 404 for an unknown service, 503 where the controller cannot roll', async () => {
  const t = await startTestApi({ services: ['api'] });
  try {
    const noRoll = await t.admin.post('api/services/api/roll');
    assert.equal(noRoll.statusCode, 503);
    assert.match(noRoll.body, /does not support rolling restarts/);
    const control = t.control as ControlPlane;
    const rolled: string[] = [];
    control.describeService = (service) => ({ service, hash: 'sha256:0000000000000000', instances: [] });
    control.rollService = async (service) => {
      rolled.push(service);
      return { service, hash: 'sha256:0000000000000000', restarted: [], upToDate: [], skipped: [] };
    };
    const tenant = await t.tenant('alice').post('api/services/api/roll');
    assert.equal(tenant.statusCode, 403);
    assert.match(tenant.body, /roll requires an admin token/);
    assert.equal((await t.tenant('alice').get('api/services/api')).statusCode, 403);
    const unknown = await t.admin.post('api/services/nope/roll');
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.body, /service \\"nope\\" is not defined in the config \(defined: api\)/);
    assert.equal((await t.admin.post('api/services/Bad_Name/roll')).statusCode, 400);
    assert.deepEqual(rolled, [], 'refused requests roll nothing');
    const ok = await t.admin.post('api/services/api/roll');
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(rolled, ['api']);
    assert.deepEqual(
      (JSON.parse((await t.admin.get('api/services')).body) as { service: string }[]).map((x) => x.service),
      ['api'],
    );
    const audit = t.deps.audit.list({ target: 'api' });
    assert.deepEqual(
      audit.map((e) => [e.action, JSON.parse(e.detail!).ok]),
      [['roll', true]],
    );
  } finally {
    await t.close();
  }
});
