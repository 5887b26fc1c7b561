// Zero-downtime operations of the controller itself, as real processes behind a real Caddy:
// graceful restart, SIGKILL, socket activation (systemd-socket-activate), and handover upgrades,
// all while clients send GET and POST requests to running tenants, a sleeping tenant and the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import got from 'got';
import { tempDir } from '../helpers/temp-dir.js';
import { freePort, runTen, startController, type ControllerProcess } from '../helpers/controller-process.js';
import { killAllMentioning, launcherOf, parentOf, pidRunning, pidsMentioning, rootPidsMentioning } from '../helpers/processes.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { TEN_BIN } from '../helpers/paths.js';
import { openDatabase } from '../../src/store/database.js';
import { InstanceStore } from '../../src/store/instance-store.js';
import { readDataDirLock } from '../../src/store/data-dir-lock.js';
import { waitFor } from '../../src/util/wait.js';

interface Setup {
  dir: string;
  dataDir: string;
  config: string;
  port: number;
  httpPort: number;
  serveArgs: string[];
}

async function setup(): Promise<Setup & { cleanup: () => void }> {
  const { dir, cleanup } = tempDir('tenement-upgrade-');
  const dataDir = path.join(dir, 'data');
  const config = path.join(dir, 'tenement.toml');
  fs.writeFileSync(
    config,
    `[settings]
data_dir = ${JSON.stringify(dataDir)}
health_check_interval = 1
${portRange().toml}
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"

[service.lazy]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"
idle_timeout = 1

[instances]
api = ["a", "b"]
lazy = ["sleepy"]
`,
  );
  const port = await freePort();
  const httpPort = await freePort();
  return { dir, dataDir, config, port, httpPort, cleanup, serveArgs: ['--http-port', String(httpPort), '--domain', 'localhost'] };
}

function instances(dataDir: string) {
  const { db } = openDatabase(dataDir);
  try {
    return new InstanceStore(db).list();
  } finally {
    db.close();
  }
}

/** Client loops through Caddy; each target's failures are counted separately. */
type LoadKind = 'running' | 'sleeping' | 'api';

function startLoad(httpPort: number) {
  const agent = new http.Agent({ keepAlive: false });
  const failures: Record<LoadKind, string[]> = { running: [], sleeping: [], api: [] };
  const ok: Record<LoadKind, number> = { running: 0, sleeping: 0, api: 0 };
  let stop = false;
  const one = async (kind: LoadKind, host: string, p: string, method: 'GET' | 'POST') => {
    try {
      const r = await got(`http://127.0.0.1:${httpPort}${p}`, {
        method,
        headers: { host },
        ...(method === 'POST' ? { body: 'x'.repeat(10_000) } : {}),
        agent: { http: agent },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: 15_000 },
      });
      if (r.statusCode === 200) ok[kind]++;
      else failures[kind].push(`${method} ${host}${p}: HTTP ${r.statusCode} ${r.body.slice(0, 100)}`);
    } catch (err) {
      failures[kind].push(`${method} ${host}${p}: ${(err as Error).message}`);
    }
  };
  const loop = async (fn: () => Promise<void>, pauseMs: number) => {
    while (!stop) {
      await fn();
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const loops = [
    loop(() => one('running', 'a.api.localhost', '/', 'GET'), 0),
    loop(() => one('running', 'b.api.localhost', '/upload', 'POST'), 0),
    // Slower than idle_timeout: the tenant falls asleep between requests, so each one is a wake.
    loop(() => one('sleeping', 'sleepy.lazy.localhost', '/upload', 'POST'), 1500),
    loop(() => one('api', 'localhost', '/health', 'GET'), 20),
  ];
  return {
    failures,
    ok,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

async function waitHealthy(port: number): Promise<void> {
  await waitFor(
    async () => {
      try {
        return (await got(`http://127.0.0.1:${port}/health`, { retry: { limit: 0 }, timeout: { request: 2000 } })).statusCode === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, what: 'controller /health' },
  );
}

function tenantPids(dataDir: string): Record<string, number | null> {
  return Object.fromEntries(instances(dataDir).map((r) => [`${r.service}:${r.id}`, r.pid]));
}

/** One controller, one Caddy, the tenants that run: nothing orphaned or duplicated, no leaked socket. */
async function assertOneOfEach(dataDir: string, ctl: number): Promise<void> {
  // Let a tenant that is falling asleep or waking settle, so records and processes agree.
  const records = await waitFor(
    () => {
      const list = instances(dataDir);
      return list.every((r) => r.observed === 'running' || r.observed === 'asleep') ? list : undefined;
    },
    { timeoutMs: 10_000, what: 'instances to settle' },
  );
  const expected = records.flatMap((r) => (r.pid === null ? [] : [r.pid])).sort();
  const tenants = records.flatMap((r) => rootPidsMentioning(path.join(dataDir, r.service, r.id))).sort();
  assert.deepEqual(tenants, expected, 'exactly the recorded tenant processes run');
  const caddy = (JSON.parse(fs.readFileSync(path.join(dataDir, '_caddy', 'caddy.pid'), 'utf8')) as { pid: number }).pid;
  // Every process of the tenants' trees (a sandboxed tenant is bubblewrap, its init and the app).
  const trees = records.flatMap((r) => pidsMentioning(path.join(dataDir, r.service, r.id)));
  const others = pidsMentioning(dataDir).filter((p) => p !== ctl && p !== caddy && !trees.includes(p));
  assert.deepEqual(others, [], 'no other process (a second controller or Caddy, an orphan) uses the data dir');
  // The controller's listening socket must not leak into tenants or Caddy (they would keep it open).
  const socket = fs.readlinkSync(`/proc/${ctl}/fd/3`);
  for (const pid of [...trees, caddy]) {
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    assert.ok(!fds.includes(socket), `pid ${pid} holds the controller's listening socket ${socket}`);
  }
}

/** After the switches: no request failed, running tenants kept their pids, nothing extra runs. */
async function assertNothingLost(load: ReturnType<typeof startLoad>, dataDir: string, running: Record<string, number | null>, ctl: number): Promise<void> {
  await load.stop();
  assert.deepEqual(load.failures, { running: [], sleeping: [], api: [] }, `failed requests (ok: ${JSON.stringify(load.ok)})`);
  const after = tenantPids(dataDir);
  // On failure, what the rows say about the restart (when, why) is what to look at.
  const rows = () =>
    JSON.stringify(
      instances(dataDir).map((r) => ({
        key: `${r.service}:${r.id}`,
        pid: r.pid,
        observed: r.observed,
        restarts: r.restartCount,
        startedAt: r.startedAt,
        lastError: r.lastError,
        lastExit: r.lastExit,
      })),
    );
  assert.equal(after['api:a'], running['api:a'], `running tenants were adopted, not restarted: ${rows()}`);
  assert.equal(after['api:b'], running['api:b'], rows());
  await assertOneOfEach(dataDir, ctl);
}

/** A failure message with what the clients saw and what the controller said last. */
function explain(err: unknown, load: { failures: unknown } | undefined, log: string): Error {
  const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : [];
  // The tail, and before it every line that says why a tenant started or stopped.
  const why = lines.slice(0, -15).filter((l) => /"level":"(warn|error)"|restart|unhealthy|exited|adopt|starting instance/.test(l));
  const tail = [...why.slice(-25), '...', ...lines.slice(-15)].join('\n');
  return new Error(`${(err as Error).message}\nfailures so far: ${JSON.stringify(load?.failures).slice(0, 2000)}\ncontroller log tail:\n${tail}`);
}

async function finish(s: Setup & { cleanup: () => void }, stopController: () => Promise<void>) {
  await stopController().catch(() => undefined);
  await runTen(['down', '--config', s.config]).catch(() => undefined);
  const left = pidsMentioning(s.dir);
  killAllMentioning(s.dir);
  s.cleanup();
  return left;
}

test('without socket activation: a graceful restart and a SIGKILL fail no request to running tenants', async () => {
  const s = await setup();
  let ctl: ControllerProcess | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  const log = path.join(s.dir, 'controller.log');
  try {
    ctl = await startController({ config: s.config, port: s.port, args: s.serveArgs, logFile: log });
    await waitFor(() => instances(s.dataDir).filter((r) => r.observed === 'running').length === 3, { timeoutMs: 15_000 });
    const running = { a: tenantPids(s.dataDir)['api:a'], b: tenantPids(s.dataDir)['api:b'] };
    load = startLoad(s.httpPort);
    await waitFor(() => load!.ok.running > 50, { timeoutMs: 10_000, what: 'load running' });
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      // Tenants are the launcher's children, not the controller's; it goes when the controller does.
      const launcher = launcherOf(ctl.pid);
      assert.ok(launcher !== undefined, 'the controller runs a launcher');
      // (After the first restart they are adopted: their launcher is gone.)
      if (signal === 'SIGTERM') assert.equal(parentOf(running.a!), launcher, "a tenant this controller started is its launcher's child");
      await ctl.stop(signal);
      await waitFor(() => !pidRunning(launcher), { timeoutMs: 10_000, what: `the launcher to exit with its controller (${signal})` });
      const before = load.ok.running;
      await waitFor(() => load!.ok.running > before + 20, { timeoutMs: 10_000, what: `running tenants served while the controller is down (${signal})` });
      ctl = await startController({ config: s.config, port: s.port, args: s.serveArgs, logFile: log });
    }
    await load.stop();
    assert.deepEqual(load.failures.running, [], `failed requests to running tenants (${load.ok.running} succeeded)`);
    const after = tenantPids(s.dataDir);
    assert.deepEqual({ a: after['api:a'], b: after['api:b'] }, running, 'no running tenant was restarted');
  } finally {
    await load?.stop();
    const left = await finish(s, () => ctl?.stop() ?? Promise.resolve());
    assert.deepEqual(left, [], 'processes left behind');
  }
});

test('socket activation (systemd-socket-activate): a graceful restart and a SIGKILL fail no request at all', async () => {
  const s = await setup();
  const log = path.join(s.dir, 'controller.log');
  const stopFile = path.join(s.dir, 'stop-loop');
  // systemd-socket-activate holds the socket and execs a shell that restarts the controller
  // whenever it exits, like systemd with Restart=always: the socket outlives every controller.
  const inner = `LISTEN_PID=$$ exec ${JSON.stringify(process.execPath)} ${JSON.stringify(TEN_BIN)} serve --config ${JSON.stringify(s.config)} ${s.serveArgs.join(' ')} >> ${JSON.stringify(log)} 2>&1`;
  const loopScript = `while [ ! -f ${JSON.stringify(stopFile)} ]; do sh -c ${JSON.stringify(inner).replaceAll('$', '\\$')}; done`;
  const activator: ChildProcess = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${s.port}`, 'sh', '-c', loopScript], {
    stdio: 'ignore',
    env: { ...process.env, TENEMENT_LOG_FORMAT: 'json' },
    detached: true,
  });
  const controllerPid = () => readDataDirLock(s.dataDir)?.pid;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    await waitHealthy(s.port); // the first connection makes systemd-socket-activate start it
    await waitFor(() => instances(s.dataDir).filter((r) => r.observed === 'running').length === 3, { timeoutMs: 15_000 });
    const running = tenantPids(s.dataDir);
    load = startLoad(s.httpPort);
    await waitFor(() => load!.ok.running > 50 && load!.ok.sleeping >= 1, { timeoutMs: 10_000, what: 'load running' });

    const switches: Array<[string, () => Promise<void>]> = [
      ['SIGTERM restart', async () => void process.kill(controllerPid()!, 'SIGTERM')],
      ['SIGKILL restart', async () => void process.kill(controllerPid()!, 'SIGKILL')],
    ];
    for (const [name, act] of switches) {
      const old = controllerPid()!;
      const okBefore = { ...load.ok };
      const l = load;
      await act();
      await waitFor(
        () => {
          const pid = controllerPid();
          return pid !== undefined && pid !== old && pidRunning(pid);
        },
        { timeoutMs: 20_000, what: `a new controller after ${name}` },
      );
      await waitHealthy(s.port);
      assert.equal(pidRunning(old), false, `${name}: the old controller is gone`);
      await waitFor(() => l.ok.api > okBefore.api + 10 && l.ok.sleeping > okBefore.sleeping, {
        timeoutMs: 15_000,
        what: `API and sleeping-tenant requests served after ${name}`,
      });
    }
    await assertNothingLost(load, s.dataDir, running, controllerPid()!);
  } catch (err) {
    throw explain(err, load, log);
  } finally {
    await load?.stop();
    fs.writeFileSync(stopFile, '');
    const left = await finish(s, async () => {
      const pid = controllerPid();
      if (pid && pidRunning(pid)) process.kill(pid, 'SIGTERM');
      await waitFor(() => activator.exitCode !== null || activator.signalCode !== null, { timeoutMs: 15_000 }).catch(() => activator.kill('SIGKILL'));
    });
    assert.deepEqual(left, [], 'processes left behind');
  }
});

test('handover upgrade without systemd (`ten upgrade --bin`): twice, no request fails, no tenant restarts', async () => {
  const s = await setup();
  const log = path.join(s.dir, 'controller.log');
  const controllerPid = () => readDataDirLock(s.dataDir)?.pid;
  let first: ControllerProcess | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    first = await startController({ config: s.config, port: s.port, args: s.serveArgs, logFile: log });
    await waitFor(() => instances(s.dataDir).filter((r) => r.observed === 'running').length === 3, { timeoutMs: 15_000 });
    const running = tenantPids(s.dataDir);
    load = startLoad(s.httpPort);
    await waitFor(() => load!.ok.running > 50 && load!.ok.sleeping >= 1, { timeoutMs: 10_000, what: 'load running' });
    for (let i = 1; i <= 2; i++) {
      const old = controllerPid()!;
      const okBefore = { ...load.ok };
      const res = await runTen(['upgrade', '--config', s.config, '--bin', TEN_BIN]);
      assert.equal(res.code, 0, res.stderr + res.stdout);
      assert.match(res.stdout + res.stderr, new RegExp(`upgraded: pid ${old} \\(tenement [^)]+\\) -> pid \\d+`));
      const now = controllerPid()!;
      assert.notEqual(now, old);
      await waitFor(() => !pidRunning(old), { timeoutMs: 15_000, what: `old controller ${old} to exit` });
      const l = load;
      await waitFor(() => l.ok.api > okBefore.api + 10 && l.ok.sleeping > okBefore.sleeping, {
        timeoutMs: 15_000,
        what: `API and sleeping-tenant requests served after upgrade ${i}`,
      });
    }
    assert.equal((await first.exited).code, 0, 'the first controller exited cleanly after handing over');
    await assertNothingLost(load, s.dataDir, running, controllerPid()!);
  } catch (err) {
    throw explain(err, load, log);
  } finally {
    await load?.stop();
    const left = await finish(s, async () => {
      const pid = controllerPid();
      if (pid && pidRunning(pid)) {
        process.kill(pid, 'SIGTERM');
        await waitFor(() => !pidRunning(pid), { timeoutMs: 15_000 }).catch(() => undefined);
      }
    });
    assert.deepEqual(left, [], 'processes left behind');
  }
});
