import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import got from 'got';
import { withSupervisor, TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { TENANT_APP } from '../helpers/paths.js';
import { pidRunning, pidsMentioning } from '../helpers/processes.js';
import { waitFor } from '../../src/util/wait.js';
import { SpawnError } from '../../src/supervisor/supervisor.js';
import { readProcStartTime } from '../../src/util/proc.js';
import { portRange } from '../helpers/port-range.js';

const settings = (dataDir: string, extra = '') => `
[settings]
data_dir = ${JSON.stringify(dataDir)}
health_check_interval = 1
max_restarts = 3
restart_window = 60
backoff_base_ms = 200
backoff_max_ms = 1000
stop_timeout = 1
${portRange().toml}${extra}
`;

const service = (name: string, extra = '', command = TENANT_COMMAND) => `
[service.${name}]
command = ${JSON.stringify(command)}
health = "/health"
${extra.includes('startup_timeout') ? '' : 'startup_timeout = 5'}
${extra}
`;

async function getJson(port: number, p = '/'): Promise<{ pid: number; dataDir: string; env?: string }> {
  return got(`http://127.0.0.1:${port}${p}`, { retry: { limit: 0 } }).json();
}

test('spawn starts a healthy process with PORT, DATA_DIR and templated env; the port survives restarts', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', `[service.api.env]\nAPP_ENV = "{name}-{id}-{port}"`),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'api', id: 'alice' });
      assert.equal(rec.observed, 'running');
      assert.equal(rec.health, 'healthy');
      assert.ok(rec.port >= h.config.settings.port_range_start && rec.port <= h.config.settings.port_range_end);
      const body = await getJson(rec.port);
      assert.equal(body.pid, rec.pid);
      assert.equal(body.dataDir, path.join(h.dataDir, 'api', 'alice'));
      assert.equal(body.env, `api-alice-${rec.port}`);
      assert.ok(fs.existsSync(path.join(h.dataDir, 'api', 'alice')));

      const again = await h.supervisor.restart({ service: 'api', id: 'alice' });
      assert.equal(again.port, rec.port, 'restart keeps the port');
      assert.notEqual(again.pid, rec.pid);
      assert.equal(pidRunning(rec.pid!), false, 'old process is gone');
      await h.supervisor.sleep({ service: 'api', id: 'alice' });
      assert.equal(h.store.get('api', 'alice')!.observed, 'asleep');
      const woken = await h.supervisor.wake({ service: 'api', id: 'alice' });
      assert.equal(woken.port, rec.port, 'wake keeps the port');
      assert.equal((await getJson(rec.port)).pid, woken.pid);
    },
  );
});

test('a crashing process is restarted with growing backoff, then marked failed after max_restarts', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', 'restart = "on-failure"'),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'api', id: 'crashy' });
      const pids = [rec.pid!];
      const startedAt: number[] = [];
      for (let i = 0; i < 3; i++) {
        const current = h.store.get('api', 'crashy')!;
        const crashAt = Date.now();
        await got(`http://127.0.0.1:${current.port}/__control/exit?code=3`, { retry: { limit: 0 } }).text();
        const next = await waitFor(
          () => {
            const r = h.store.get('api', 'crashy')!;
            return r.observed === 'running' && r.pid !== null && !pids.includes(r.pid) ? r : undefined;
          },
          { timeoutMs: 10_000, what: `restart #${i + 1}` },
        );
        startedAt.push(Date.now() - crashAt);
        pids.push(next.pid!);
        assert.equal(next.port, rec.port);
      }
      // Backoff: 0, then base (200 ms), then 2 * base (400 ms).
      assert.ok(startedAt[1]! >= 200, `second restart waited ${startedAt[1]} ms`);
      assert.ok(startedAt[2]! >= 400, `third restart waited ${startedAt[2]} ms`);
      assert.equal(h.store.restartsSince('api', 'crashy', 0), 3);
      const last = h.store.get('api', 'crashy')!;
      await got(`http://127.0.0.1:${last.port}/__control/exit?code=3`, { retry: { limit: 0 } }).text();
      const failed = await waitFor(
        () => {
          const r = h.store.get('api', 'crashy')!;
          return r.observed === 'failed' ? r : undefined;
        },
        { timeoutMs: 10_000, what: 'failed state' },
      );
      assert.equal(failed.health, 'failed');
      assert.match(failed.lastError ?? '', /max_restarts = 3/);
      assert.equal(failed.pid, null);
    },
  );
});

test('a clean exit is not restarted with restart = "on-failure" but is with "always"', async () => {
  await withSupervisor(
    (d) => settings(d) + service('once', 'restart = "on-failure"') + service('forever', 'restart = "always"'),
    async (h) => {
      const once = await h.supervisor.spawn({ service: 'once', id: 'a' });
      const forever = await h.supervisor.spawn({ service: 'forever', id: 'a' });
      await got(`http://127.0.0.1:${once.port}/__control/exit?code=0`).text();
      await got(`http://127.0.0.1:${forever.port}/__control/exit?code=0`).text();
      const stopped = await waitFor(() => (h.store.get('once', 'a')!.observed === 'stopped' ? h.store.get('once', 'a') : undefined), {
        timeoutMs: 5000,
        what: 'once stopped',
      });
      assert.equal(stopped!.lastExit, 'exited with code 0');
      await waitFor(
        () => {
          const r = h.store.get('forever', 'a')!;
          return r.observed === 'running' && r.pid !== forever.pid;
        },
        { timeoutMs: 5000, what: 'forever restarted' },
      );
      assert.equal(h.store.get('once', 'a')!.observed, 'stopped', 'still not restarted');
    },
  );
});

test('restart = "never" leaves a crashed instance down and visible', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', 'restart = "never"'),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'api', id: 'a' });
      await got(`http://127.0.0.1:${rec.port}/__control/exit?code=9`).text();
      const r = await waitFor(() => (h.store.get('api', 'a')!.observed === 'failed' ? h.store.get('api', 'a') : undefined), {
        timeoutMs: 5000,
        what: 'failed',
      });
      assert.equal(r!.lastExit, 'exited with code 9');
      assert.equal(h.store.restartsSince('api', 'a', 0), 0);
    },
  );
});

test('an app that exits at start: the spawn fails with its output, and a brand-new instance releases its port', async () => {
  await withSupervisor(
    (d) => settings(d) + service('bad', `[service.bad.env]\nEXIT_AT_START = "4"`),
    async (h) => {
      await assert.rejects(h.supervisor.spawn({ service: 'bad', id: 'x' }), (err: Error) => {
        assert.ok(err instanceof SpawnError);
        assert.match(err.message, /exited with code 4 before it became healthy/);
        assert.match(err.message, /EXIT_AT_START/, 'message carries the last lines the process printed');
        return true;
      });
      assert.equal(h.store.get('bad', 'x'), undefined, 'record (and so its port) released');
      assert.equal(h.store.usedPorts().size, 0);
    },
  );
});

test('a declared instance that exits at start is retried with backoff and ends failed after max_restarts', async () => {
  await withSupervisor(
    (d) => settings(d) + service('bad', `[service.bad.env]\nEXIT_AT_START = "1"`) + `\n[instances]\nbad = ["x"]\n`,
    async (h) => {
      const r = await waitFor(() => (h.store.get('bad', 'x')?.observed === 'failed' ? h.store.get('bad', 'x') : undefined), {
        timeoutMs: 15_000,
        what: 'failed',
      });
      assert.equal(h.store.restartsSince('bad', 'x', 0), 3);
      assert.equal(r!.health, 'failed');
    },
  );
});

test('a slow start within startup_timeout succeeds; one beyond it fails and is killed', async () => {
  await withSupervisor(
    (d) =>
      settings(d) +
      service('slow', `startup_timeout = 5\n[service.slow.env]\nSTARTUP_DELAY_MS = "800"`) +
      service('slower', `startup_timeout = 1\n[service.slower.env]\nSTARTUP_DELAY_MS = "3000"`),
    async (h) => {
      const t0 = Date.now();
      const rec = await h.supervisor.spawn({ service: 'slow', id: 'a' });
      assert.ok(Date.now() - t0 >= 800);
      assert.equal(rec.health, 'healthy');
      await assert.rejects(h.supervisor.spawn({ service: 'slower', id: 'a' }), /not healthy within startup_timeout \(1 s\)/);
      assert.deepEqual(pidsMentioning(path.join(h.dataDir, 'slower')), [], 'the process that did not become healthy was killed');
    },
  );
});

test('an app that ignores SIGTERM is killed after stop_timeout', async () => {
  await withSupervisor(
    (d) => settings(d) + service('stubborn', `[service.stubborn.env]\nIGNORE_SIGTERM = "1"`),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'stubborn', id: 'a' });
      const t0 = Date.now();
      await h.supervisor.stop({ service: 'stubborn', id: 'a' });
      const took = Date.now() - t0;
      assert.ok(took >= 1000, `stop waited the stop_timeout (${took} ms)`);
      assert.equal(pidRunning(rec.pid!), false);
    },
  );
});

test("`sh -c 'child & exec app'` leaves no process behind on stop", async () => {
  await withSupervisor(
    // The app's path is inside a shell string the sandbox cannot see into: `workdir` makes its
    // folder visible (it may be under /tmp, which is private in the sandbox).
    (d) => settings(d) + service('shell', `workdir = ${JSON.stringify(path.dirname(TENANT_APP))}`, `sh -c 'sleep 300 & exec ${TENANT_COMMAND.replaceAll('"', '')}'`),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'shell', id: 'a' });
      const marker = path.join(h.dataDir, 'shell', 'a');
      const before = pidsMentioning(marker);
      assert.ok(before.length >= 2, `app and its background child run (${before.join(',')})`);
      await h.supervisor.stop({ service: 'shell', id: 'a' });
      assert.deepEqual(pidsMentioning(marker), []);
      assert.equal(pidRunning(rec.pid!), false);
    },
  );
});

test('storage_persist = false deletes the instance directory on stop, and nothing else', async () => {
  await withSupervisor(
    (d) => settings(d) + service('tmp', 'storage_persist = false') + service('keep', ''),
    async (h) => {
      await h.supervisor.spawn({ service: 'tmp', id: 'a' });
      await h.supervisor.spawn({ service: 'keep', id: 'a' });
      fs.writeFileSync(path.join(h.dataDir, 'tmp', 'a', 'file'), 'x');
      await h.supervisor.stop({ service: 'tmp', id: 'a' });
      await h.supervisor.stop({ service: 'keep', id: 'a' });
      assert.equal(fs.existsSync(path.join(h.dataDir, 'tmp', 'a')), false);
      assert.equal(fs.existsSync(path.join(h.dataDir, 'tmp')), true);
      assert.equal(fs.existsSync(path.join(h.dataDir, 'keep', 'a')), true);
    },
  );
});

test('three failed health checks make an instance unhealthy and it is restarted', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', ''),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'api', id: 'a' });
      await got(`http://127.0.0.1:${rec.port}/__control/health?status=500`).text();
      await waitFor(() => h.store.get('api', 'a')!.health === 'degraded', { timeoutMs: 5000, what: 'degraded' });
      const restarted = await waitFor(
        () => {
          const r = h.store.get('api', 'a')!;
          return r.observed === 'running' && r.health === 'healthy' && r.pid !== rec.pid ? r : undefined;
        },
        { timeoutMs: 15_000, what: 'restart after unhealthy' },
      );
      assert.match(h.store.restartHistory('api', 'a', 10)[0]!.reason, /unhealthy/);
      assert.equal(restarted.port, rec.port);
    },
  );
});

test('one instance in backoff does not delay health checks of another', async () => {
  await withSupervisor(
    (d) => settings(d, '').replace('backoff_base_ms = 200', 'backoff_base_ms = 5000').replace('backoff_max_ms = 1000', 'backoff_max_ms = 5000') + service('api', ''),
    async (h) => {
      const a = await h.supervisor.spawn({ service: 'api', id: 'a' });
      const b = await h.supervisor.spawn({ service: 'api', id: 'b' });
      // a: crash twice so its next restart waits 5 s.
      await got(`http://127.0.0.1:${a.port}/__control/exit?code=1`).text();
      await waitFor(() => h.store.get('api', 'a')!.observed === 'running' && h.store.get('api', 'a')!.pid !== a.pid, { timeoutMs: 5000 });
      await got(`http://127.0.0.1:${a.port}/__control/exit?code=1`).text();
      await waitFor(() => h.store.get('api', 'a')!.observed === 'backoff', { timeoutMs: 5000, what: 'a in backoff' });
      // b turns sick meanwhile and must be noticed within its own interval.
      await got(`http://127.0.0.1:${b.port}/__control/health?status=503`).text();
      await waitFor(() => h.store.get('api', 'b')!.health === 'degraded', { timeoutMs: 3000, what: 'b degraded while a waits' });
      assert.equal(h.store.get('api', 'a')!.observed, 'backoff');
    },
  );
});

test('idle instances are put to sleep, keep their record and port, and are not forgotten', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', 'idle_timeout = 1'),
    async (h) => {
      const rec = await h.supervisor.spawn({ service: 'api', id: 'a' });
      const asleep = await waitFor(() => (h.store.get('api', 'a')!.observed === 'asleep' ? h.store.get('api', 'a') : undefined), {
        timeoutMs: 5000,
        what: 'asleep',
      });
      assert.equal(asleep!.port, rec.port);
      assert.equal(asleep!.desired, 'asleep');
      assert.equal(pidRunning(rec.pid!), false);
    },
    { idleCheckMs: 100 },
  );
});

test('busy instances (requests in flight) are not put to sleep', async () => {
  let busy = true;
  await withSupervisor(
    (d) => settings(d) + service('api', 'idle_timeout = 1'),
    async (h) => {
      await h.supervisor.spawn({ service: 'api', id: 'a' });
      const t0 = Date.now();
      await waitFor(() => Date.now() - t0 > 1600, { timeoutMs: 3000 });
      assert.equal(h.store.get('api', 'a')!.observed, 'running');
      busy = false;
      await waitFor(() => h.store.get('api', 'a')!.observed === 'asleep', { timeoutMs: 3000, what: 'asleep once idle' });
    },
    { idleCheckMs: 100, isBusy: () => busy },
  );
});

test('a new controller adopts running instances without restarting them', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', ''),
    async (h) => {
      const a = await h.supervisor.spawn({ service: 'api', id: 'a' });
      const b = await h.supervisor.spawn({ service: 'api', id: 'b' });
      await h.restartController();
      assert.equal(h.store.get('api', 'a')!.pid, a.pid);
      assert.equal(h.store.get('api', 'b')!.pid, b.pid);
      assert.equal(h.store.restartsSince('api', 'a', 0), 0);
      // Exit detection works for adopted processes (polled; status unknown = failure -> restart).
      await got(`http://127.0.0.1:${a.port}/__control/exit?code=0`).text();
      const r = await waitFor(
        () => {
          const x = h.store.get('api', 'a')!;
          return x.observed === 'running' && x.pid !== a.pid ? x : undefined;
        },
        { timeoutMs: 10_000, what: 'adopted process restarted after exit' },
      );
      assert.equal(r.port, a.port);
    },
  );
});

test('a recorded pid reused by an unrelated process is not adopted (nor killed)', async () => {
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    await withSupervisor(
      (d) => settings(d) + service('api', ''),
      async (h) => {
        const a = await h.supervisor.spawn({ service: 'api', id: 'a' });
        h.supervisor.detach();
        // Pretend the instance died and its pid went to the stranger.
        process.kill(-a.pid!, 'SIGKILL');
        await waitFor(() => !pidRunning(a.pid!), { timeoutMs: 5000 });
        h.store.update('api', 'a', { pid: stranger.pid!, pidStartTime: String(Number(readProcStartTime(stranger.pid!)) - 1) });
        await h.restartController();
        const r = await waitFor(
          () => {
            const x = h.store.get('api', 'a')!;
            return x.observed === 'running' && x.pid !== stranger.pid ? x : undefined;
          },
          { timeoutMs: 10_000, what: 'instance restarted instead of adopting the stranger' },
        );
        assert.notEqual(r.pid, stranger.pid);
        assert.equal(pidRunning(stranger.pid!), true, 'the unrelated process is untouched');
      },
    );
  } finally {
    stranger.kill('SIGKILL');
  }
});

test('wakes respect backoff and count as restarts: a crashing app still ends failed after max_restarts', async () => {
  await withSupervisor(
    (d) => settings(d) + service('api', 'idle_timeout = 1') + service('bad', `[service.bad.env]\nFAIL_IDS = "x"`),
    async (h) => {
      // "bad:x" exits at start; create it through a service whose record exists, then sleep it.
      const a = await h.supervisor.spawn({ service: 'api', id: 'a' });
      // Crash twice: the second restart waits backoff_base_ms; a wake arriving meanwhile waits for
      // that scheduled restart instead of skipping the backoff.
      await got(`http://127.0.0.1:${a.port}/__control/exit?code=1`).text();
      await waitFor(() => h.store.get('api', 'a')!.observed === 'running' && h.store.get('api', 'a')!.pid !== a.pid, { timeoutMs: 5000 });
      await got(`http://127.0.0.1:${a.port}/__control/exit?code=1`).text();
      await waitFor(() => h.store.get('api', 'a')!.observed === 'backoff', { timeoutMs: 5000, what: 'backoff' });
      const woken = await h.supervisor.wake({ service: 'api', id: 'a' });
      assert.equal(woken.observed, 'running');
      assert.equal(h.store.restartsSince('api', 'a', 0), 2, 'the wake was served by the scheduled restart, not an extra start');

      const bad = h.store.get('api', 'a')!;
      h.store.insert({ ...bad, service: 'bad', id: 'x', port: bad.port + 1, pid: null, pidStartTime: null, observed: 'asleep', desired: 'asleep' });
      for (let i = 0; i < 6; i++) {
        await h.supervisor.wake({ service: 'bad', id: 'x' }).catch(() => undefined);
        if (h.store.get('bad', 'x')!.observed === 'failed') break;
      }
      const r = await waitFor(() => (h.store.get('bad', 'x')!.observed === 'failed' ? h.store.get('bad', 'x') : undefined), {
        timeoutMs: 15_000,
        what: 'failed after repeated failing wakes',
      });
      assert.equal(h.store.restartsSince('bad', 'x', 0), 3);
      assert.equal(r!.health, 'failed');
    },
  );
});
