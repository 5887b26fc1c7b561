// ConfigReloader on a real supervisor, real files and real tenant processes: what a valid edit
// applies, what an invalid or refused one leaves alone, and rolling restarts onto a new definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import { serviceHash } from '../../src/config/service-hash.js';
import type { Config } from '../../src/config/types.js';
import { ConfigReloader, RELOAD_ACTOR } from '../../src/controller/config-reload.js';
import { RollError, RollingRestarts } from '../../src/controller/rolling-restart.js';
import { rollJson, serviceJson } from '../../src/api/service-json.js';
import type { RollResponse, ServiceJson } from '../../src/api/contract.js';
import type { AuditEvent, InstanceRecord } from '../../src/store/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { portRange } from '../helpers/port-range.js';
import { pidRunning } from '../helpers/processes.js';
import { TENANT_COMMAND, withSupervisor, type Harness } from '../helpers/supervisor-harness.js';

interface Shape {
  env?: string;
  extraEnv?: string;
  instances?: string;
  extra?: string;
  settings?: string;
}

function tomlFor(range: { toml: string }) {
  return (dataDir: string, s: Shape = {}) => `
[settings]
data_dir = ${JSON.stringify(dataDir)}
health_check_interval = 1
max_restarts = 5
restart_window = 60
backoff_base_ms = 100
backoff_max_ms = 500
stop_timeout = 2
${range.toml}${s.settings ?? ''}
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"
startup_timeout = 5

[service.api.env]
APP_ENV = ${JSON.stringify(s.env ?? 'one')}
${s.extraEnv ?? ''}
${s.extra ?? ''}
[instances]
api = [${s.instances ?? '"alice", "bob", "carol"'}]
`;
}

interface Rig {
  h: Harness;
  file: string;
  reloader: ConfigReloader;
  /** Rolling restarts, answering with the API's JSON. */
  roller: { describeService(service: string): ServiceJson; rollService(service: string): Promise<RollResponse> };
  config: () => Config;
  audit: AuditEvent[];
  write(s: Shape): void;
  pids(): Record<string, number | null>;
}

async function withReloader(fn: (r: Rig) => Promise<void>, initial: Shape = {}): Promise<void> {
  const toml = tomlFor(portRange());
  await withSupervisor(
    (d) => toml(d, initial),
    async (h) => {
      const file = path.join(h.dir, 'tenement.toml');
      let config = h.config;
      const audit: AuditEvent[] = [];
      const reloader = new ConfigReloader({
        file,
        current: () => config,
        apply: (c) => {
          config = c;
        },
        supervisor: h.supervisor,
        audit: { record: (e) => audit.push(e) },
        log: silentLogger,
      });
      const rolls = new RollingRestarts({
        current: () => config,
        supervisor: h.supervisor,
        reload: (reason) => reloader.reload(reason),
        closed: () => reloader.closed,
        log: silentLogger,
      });
      try {
        await fn({
          h,
          file,
          reloader,
          roller: {
            describeService: (service) => serviceJson(rolls.describeService(service)),
            rollService: async (service) => rollJson(await rolls.rollService(service)),
          },
          config: () => config,
          audit,
          write: (s) => fs.writeFileSync(file, toml(h.dataDir, s)),
          pids: () => Object.fromEntries(h.supervisor.list().map((r) => [`${r.service}:${r.id}`, r.pid])),
        });
      } finally {
        await reloader.close();
      }
    },
  );
}

async function envOf(r: InstanceRecord): Promise<string | undefined> {
  const body = await got(`http://127.0.0.1:${r.port}/`, { retry: { limit: 0 } }).json<{ env?: string; pid: number }>();
  assert.equal(body.pid, r.pid);
  return body.env;
}

const get = (h: Harness, id: string, service = 'api') => h.supervisor.get({ service, id })!;

test('a valid edit applies at once: [instances] additions are spawned, running instances are left alone', async () => {
  await withReloader(async (r) => {
    const before = r.pids();
    r.write({ instances: '"alice", "bob", "carol", "dave"', extra: '[service.docs]\ncommand = ' + JSON.stringify(TENANT_COMMAND) + '\nhealth = "/health"\n\n' });
    // `[instances]` for the new service in a second table would be a TOML error; append it instead.
    fs.appendFileSync(r.file, 'docs = ["main"]\n');
    const res = await r.reloader.reload('test');
    assert.equal(res.outcome, 'applied', res.problems.join('\n'));
    assert.deepEqual(res.spawnFailures, []);
    assert.deepEqual(res.spawned.sort(), ['api:dave', 'docs:main']);
    assert.equal(get(r.h, 'dave').observed, 'running');
    assert.equal(get(r.h, 'main', 'docs').observed, 'running');
    assert.ok(r.config().services.docs, 'the running config has the new service');
    for (const [k, pid] of Object.entries(before)) assert.equal(r.pids()[k], pid, `${k} untouched`);
    assert.deepEqual(r.reloader.status(), { ok: true, detail: r.file });
    const entry = r.audit.find((e) => e.action === 'config-reload')!;
    assert.equal(entry.actor, RELOAD_ACTOR);
    assert.equal(entry.target, r.file);
    const detail = JSON.parse(entry.detail!) as { ok: boolean; changes: string[] };
    assert.equal(detail.ok, true);
    assert.ok(detail.changes.includes('service docs added'));
    assert.ok(detail.changes.includes('instances: api:dave added (spawning)'));

    // Reading the same file again is not a change, and writes no audit entry.
    const again = await r.reloader.reload('again');
    assert.equal(again.outcome, 'unchanged');
    assert.equal(r.audit.length, 1);
  });
});

test('an invalid edit changes nothing, is reported with file:line:key, and /health stays degraded until a valid edit', async () => {
  await withReloader(async (r) => {
    const before = r.pids();
    const config = r.config();
    r.write({ settings: 'log_retention_days = "soon"\n' });
    const res = await r.reloader.reload('test');
    assert.equal(res.outcome, 'invalid');
    const line = fs.readFileSync(r.file, 'utf8').split('\n').indexOf('log_retention_days = "soon"') + 1;
    assert.equal(res.problems.length, 1);
    assert.match(res.problems[0]!, new RegExp(`^${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}: settings\\.log_retention_days: `));
    assert.equal(r.config(), config, 'the running config object is untouched');
    assert.deepEqual(r.pids(), before, 'no process touched');
    const status = r.reloader.status();
    assert.equal(status.ok, false);
    assert.match(status.detail, /invalid config edit .*still running the previous config: .*tenement\.toml:\d+: settings\.log_retention_days/);

    // A TOML syntax error: same story, with the line.
    fs.writeFileSync(r.file, fs.readFileSync(r.file, 'utf8').replace('[service.api]', '[service.api'));
    const broken = await r.reloader.reload('test');
    assert.equal(broken.outcome, 'invalid');
    assert.match(broken.problems[0]!, /tenement\.toml:\d+: TOML syntax error/);
    assert.deepEqual(r.pids(), before);
    assert.equal(r.audit.filter((e) => e.action === 'config-reload').length, 2, 'each refused edit is audited');
    assert.equal(JSON.parse(r.audit[0]!.detail!).ok, false);

    // Back to a valid file equal to what runs: healthy again, nothing to apply.
    r.write({});
    const fixed = await r.reloader.reload('test');
    assert.equal(fixed.outcome, 'unchanged');
    assert.equal(r.reloader.status().ok, true);
    assert.deepEqual(r.pids(), before);
  });
});

test('a service with instances cannot be removed by an edit; data_dir and the port range cannot change', async () => {
  const docs = `[service.docs]\ncommand = ${JSON.stringify(TENANT_COMMAND)}\nhealth = "/health"\n`;
  await withReloader(
    async (r) => {
      assert.equal(get(r.h, 'main', 'docs').observed, 'running');
      const alice = get(r.h, 'alice').pid;
      // docs removed from the file, its instance still running.
      r.write({ instances: '"alice"' });
      const res = await r.reloader.reload('test');
      assert.equal(res.outcome, 'refused');
      assert.match(res.problems.join('\n'), /service "docs" was removed but still has instances: docs:main \(running\)\. Stop them first \(ten stop docs:main\)/);
      assert.ok(r.config().services.docs, 'docs still defined in the running config');
      assert.equal(get(r.h, 'main', 'docs').observed, 'running');
      assert.equal(r.reloader.status().ok, false);
      assert.match(r.reloader.status().detail, /config edit refused .*ten stop docs:main/);

      // Once its instance is stopped, the same file applies.
      await r.h.supervisor.stop({ service: 'docs', id: 'main' });
      const ok = await r.reloader.reload('test');
      assert.equal(ok.outcome, 'applied');
      assert.ok(ok.changes.includes('service docs removed'));
      assert.equal(r.config().services.docs, undefined);
      assert.equal(r.reloader.status().ok, true);

      r.write({ instances: '"alice"' });
      fs.writeFileSync(r.file, fs.readFileSync(r.file, 'utf8').replace(/port_range_end = \d+/, 'port_range_end = 65000'));
      const ports = await r.reloader.reload('test');
      assert.equal(ports.outcome, 'refused');
      assert.match(ports.problems[0]!, /tenement\.toml:\d+: settings\.port_range_end: the port range cannot change while tenement runs/);

      r.write({ instances: '"alice"' });
      fs.writeFileSync(r.file, fs.readFileSync(r.file, 'utf8').replace(/data_dir = .*\n/, `data_dir = ${JSON.stringify(path.join(r.h.dir, 'elsewhere'))}\n`));
      const moved = await r.reloader.reload('test');
      assert.equal(moved.outcome, 'refused');
      assert.match(moved.problems[0]!, /tenement\.toml:3: settings\.data_dir: data_dir cannot change while tenement runs/);
      assert.equal(r.config().settings.data_dir, r.h.dataDir);
      assert.equal(r.config().settings.port_range_end, r.h.config.settings.port_range_end);
      assert.equal(get(r.h, 'alice').pid, alice, 'running instances untouched throughout');
    },
    { extra: docs, instances: '"alice"]\ndocs = ["main"' },
  );
});

test('a changed definition applies as instances restart: a crash restart picks it up; roll restarts the rest one at a time', async () => {
  await withReloader(async (r) => {
    const oldHash = serviceHash(r.config(), r.config().services.api!);
    for (const id of ['alice', 'bob', 'carol']) assert.equal(get(r.h, id).configHash, oldHash, 'hash recorded at start');
    // bob takes no service traffic: the cheapest first candidate.
    r.h.supervisor.setWeight({ service: 'api', id: 'bob' }, 0);

    r.write({ env: 'two' });
    const res = await r.reloader.reload('test');
    assert.equal(res.outcome, 'applied');
    assert.deepEqual(res.changes, ['service api: env changed (applies as its instances restart; `ten roll api` restarts them now)']);
    const newHash = serviceHash(r.config(), r.config().services.api!);
    assert.notEqual(newHash, oldHash);
    assert.equal(await envOf(get(r.h, 'alice')), 'one', 'running instances keep their definition');
    assert.deepEqual(
      r.roller.describeService('api').instances.map((i) => [i.instance, i.current, i.roll]),
      [
        ['api:alice', false, 'restart'],
        ['api:bob', false, 'restart'],
        ['api:carol', false, 'restart'],
      ],
    );

    // A crash: the restart policy starts it again, with the new definition.
    const carol = get(r.h, 'carol');
    await got(`http://127.0.0.1:${carol.port}/__control/exit?code=3`, { retry: { limit: 0 } });
    const restarted = await waitFor(
      () => {
        const c = get(r.h, 'carol');
        return c.observed === 'running' && c.pid !== carol.pid && c;
      },
      { timeoutMs: 15_000, what: 'carol restarted after its crash' },
    );
    assert.equal(restarted.configHash, newHash);
    assert.equal(await envOf(restarted), 'two');

    // The roll: never more than one instance down at a time, healthiest-serving last.
    const down = new Set<string>();
    let maxDown = 0;
    const order: string[] = [];
    const onChange = (rec: InstanceRecord | { removed: true }) => {
      if ('removed' in rec) return;
      const k = `${rec.service}:${rec.id}`;
      if (rec.observed === 'running') down.delete(k);
      else {
        if (!down.has(k) && !order.includes(k)) order.push(k);
        down.add(k);
      }
      maxDown = Math.max(maxDown, down.size);
    };
    r.h.supervisor.on('change', onChange);
    const before = r.pids();
    const roll = await r.roller.rollService('api');
    r.h.supervisor.off('change', onChange);
    assert.deepEqual(roll.restarted, ['api:bob', 'api:alice']);
    assert.deepEqual(roll.up_to_date, ['api:carol']);
    assert.deepEqual(roll.skipped, []);
    assert.equal(roll.config_hash, newHash);
    assert.deepEqual(order, ['api:bob', 'api:alice']);
    assert.equal(maxDown, 1, 'one instance at a time');
    for (const id of ['alice', 'bob']) {
      const rec = get(r.h, id);
      assert.notEqual(rec.pid, before[`api:${id}`]);
      assert.equal(pidRunning(before[`api:${id}`]!), false);
      assert.equal(rec.configHash, newHash);
      assert.equal(await envOf(rec), 'two');
    }
    assert.equal(get(r.h, 'carol').pid, before['api:carol'], 'the current one is not restarted');
    assert.equal(r.roller.describeService('api').stale, 0);
    // Nothing left: a second roll restarts nothing.
    assert.deepEqual((await r.roller.rollService('api')).restarted, []);
  });
});

test('a roll stops at the first instance that does not come back, and leaves the others running the old definition', async () => {
  await withReloader(async (r) => {
    await r.h.supervisor.sleep({ service: 'api', id: 'carol' });
    r.write({ env: 'broken', extraEnv: 'EXIT_AT_START = "4"' });
    const before = r.pids();
    await assert.rejects(r.roller.rollService('api'), (err: Error) => {
      assert.ok(err instanceof RollError);
      assert.match(err.message, /roll of api stopped: api:alice did not come back healthy with the new definition: .*exited with code 4/s);
      assert.match(err.message, /not touched \(still on the previous definition\): api:bob\./);
      assert.match(err.message, /`ten roll api` again/);
      assert.equal(err.result.failed, 'api:alice');
      assert.deepEqual(err.result.restarted, []);
      return true;
    });
    assert.equal(r.config().services.api!.env.APP_ENV, 'broken', 'the roll read the edit first');
    assert.equal(get(r.h, 'bob').pid, before['api:bob'], 'bob untouched');
    assert.equal(await envOf(get(r.h, 'bob')), 'one');
    assert.equal(get(r.h, 'alice').observed, 'stopped');
    assert.equal(get(r.h, 'carol').observed, 'asleep', 'a sleeping instance is not woken by a roll');

    // An invalid file: no roll at all.
    fs.writeFileSync(r.file, 'this is = not toml = at all');
    await assert.rejects(r.roller.rollService('api'), /not rolling api: the config file has errors.*\n.*TOML syntax error/);
    assert.equal(get(r.h, 'bob').pid, before['api:bob']);

    // Fixed: the roll brings alice back first (it serves nothing), then bob; carol wakes into it.
    r.write({ env: 'three' });
    const roll = await r.roller.rollService('api');
    assert.deepEqual(roll.restarted, ['api:alice', 'api:bob']);
    assert.deepEqual(roll.skipped, [{ instance: 'api:carol', reason: 'asleep: it starts with the current definition when woken' }]);
    assert.equal(await envOf(get(r.h, 'alice')), 'three');
    const carol = await r.h.supervisor.wake({ service: 'api', id: 'carol' });
    assert.equal(await envOf(carol), 'three');
    assert.equal(r.roller.describeService('api').stale, 0);
  });
});

test('reloads run one at a time; requests during one share a single follow-up', async () => {
  await withReloader(async (r) => {
    r.write({ instances: '"alice", "bob", "carol", "dave"' });
    const first = r.reloader.reload('a');
    assert.equal(r.reloader.reload('b'), first, 'a request before the reload has read the file joins it');
    // While it runs (spawning dave), new requests queue one follow-up between them.
    await waitFor(() => r.h.supervisor.get({ service: 'api', id: 'dave' }), { timeoutMs: 10_000, what: 'the reload to be spawning dave' });
    const second = r.reloader.reload('c');
    assert.notEqual(second, first);
    assert.equal(r.reloader.reload('d'), second);
    assert.equal((await first).outcome, 'applied');
    assert.equal((await second).outcome, 'unchanged', 'the follow-up saw the applied config');
    assert.equal(r.reloader.count, 2);
  });
});

test('watch(): a rename-save of the file is applied without calling reload', async () => {
  await withReloader(async (r) => {
    await r.reloader.watch();
    const tmp = `${r.file}.tmp`;
    fs.writeFileSync(tmp, fs.readFileSync(r.file, 'utf8').replace('"alice", "bob", "carol"', '"alice", "bob", "carol", "erin"'));
    fs.renameSync(tmp, r.file);
    await waitFor(() => r.h.supervisor.get({ service: 'api', id: 'erin' })?.observed === 'running', { timeoutMs: 15_000, what: 'api:erin spawned by the watched edit' });
    assert.equal(r.reloader.status().ok, true);
  });
});
