// The issue-9 figures for a whole tenement (controller in this process, managed Caddy, real tenant
// processes): N registered instances of a Python app, all asleep, and one Node instance awake whose
// host is last in every ordering; each figure side by side with its bare reference.
import { spawn, type ChildProcess } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { withStack, type Stack } from '../helpers/stack.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { freePort } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { CaddyAdminClient, Serialized } from '../../caddy/admin-client.js';
import { probe, probeTcp } from '../../src/supervisor/health-probe.js';
import { bareCaddy, cpuShare, median, rssMb, wrk } from './measure.js';

import { execFileSync } from 'node:child_process';

/**
 * The Python interpreter itself, not a version-manager shim (a shim adds its own start-up time).
 * The system's first: each instance runs under its own uid, which cannot read an interpreter in
 * root's home (pyenv).
 */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
// A small folder every uid can list (the interpreter's own http package): `GET /` is the health
// check, and a tenant cannot list the data root it starts in.
const SERVED = execFileSync(PYTHON, ['-c', 'import http, os; print(os.path.dirname(http.__file__))'], { encoding: 'utf8' }).trim();
export const PY_COMMAND = `${JSON.stringify(PYTHON)} -m http.server --bind 127.0.0.1 --directory ${JSON.stringify(SERVED)} {port}`;
const PY_HEALTH = '/';
const pyId = (i: number) => `p${String(i).padStart(5, '0')}`;

export interface ScaleOptions {
  registered: number;
  batch: number;
  wrkSeconds: number;
  idleSeconds: number;
  wakes: number;
  coldWakes: number;
  pushes: number;
  /** wrk runs per side for the warm figure (median). */
  wrkRuns: number;
}

export interface ScaleFigures {
  registered: number;
  controllerIdleCpu: number;
  /** Of the idle window, the time V8's garbage collector took (ms; shrinking the heap after the spawns shows here). */
  controllerIdleGcMs: number;
  /** Controller CPU of the storage meter's pass over every instance that ran (ms, once). */
  storagePassCpuMs: number;
  caddyIdleCpu: number;
  controllerRssMb: number;
  heapUsedMb: number;
  tenementRps: number;
  staticRps: number;
  pushMs: number;
  rawLoadMs: number;
  /** The same while instances wake and fall asleep (undefined with no sleeping instances). */
  churnPushMs: number | undefined;
  churnRawLoadMs: number | undefined;
  /** Sleep/wake cycles completed while the churn figures were measured. */
  churnCycles: number;
  /**
   * Churn requests that failed (each a new connection): on Caddy 2.6 a reload can reset a
   * connection it has just accepted, and every weight change is a reload.
   */
  churnFailures: number;
  spawnMs: number | undefined;
  bareSpawnMs: number | undefined;
  wakeAllOk: number;
  wakeMs: number | undefined;
  bareWakeMs: number | undefined;
  coldWakeMs: number;
  bareStartMs: number;
}

/**
 * Starts the Python app bare (no tenement) on a free port and resolves once it answers. A port
 * taken in the meantime (other processes on this machine) means another try on another port.
 */
async function bareStart(dir: string, port: number): Promise<{ ms: number; child: ChildProcess }> {
  const t0 = performance.now();
  for (let attempt = 0; ; attempt++) {
    const p = attempt === 0 ? port : await freePort();
    const child = spawn(PYTHON, ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', SERVED, String(p)], { cwd: dir, stdio: 'ignore' });
    // As close to the moment it answers as can be seen: a TCP connect every 2 ms until the port
    // accepts, then the HTTP check (the reference must not carry a polling delay of its own).
    const deadline = performance.now() + 60_000;
    while (child.exitCode === null && child.signalCode === null && performance.now() < deadline) {
      if ((await probeTcp(p, 1000)).ok && (await probe(p, PY_HEALTH, 1000)).ok) return { ms: performance.now() - t0, child };
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    if (attempt >= 3) throw new Error(`bare python did not answer on port ${p}`);
  }
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}

/** `count` bare starts, `batch` at a time; wall time in ms. */
async function bareStarts(count: number, batch: number): Promise<number> {
  const { dir, cleanup } = tempDir('tenement-bench-bare-');
  try {
    const t0 = performance.now();
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
      const started = await Promise.all(ports.map((p) => bareStart(dir, p)));
      await stopAll(started.map((s) => s.child));
    }
    return performance.now() - t0;
  } finally {
    cleanup();
  }
}

/** This process's CPU share over `ms`, and how much of the window V8's garbage collector took. */
async function controllerCpuShare(ms: number): Promise<{ share: number; gcMs: number }> {
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c = process.cpuUsage(c0);
  gc.disconnect();
  return { share: (c.user + c.system) / 1000 / (performance.now() - t0), gcMs };
}

export async function scaleFigures(o: ScaleOptions): Promise<ScaleFigures> {
  const range = portRange();
  const wide = `port_range_start = ${range.start}\nport_range_end = ${range.start + Math.max(400, o.registered + 50)}\n`;
  let figures: ScaleFigures | undefined;
  await withStack(
    (d) =>
      `[settings]\ndata_dir = ${JSON.stringify(d)}\n${wide}\n` +
      `[service.py]\ncommand = ${JSON.stringify(PY_COMMAND)}\nhealth = ${JSON.stringify(PY_HEALTH)}\nidle_timeout = 3600\n\n` +
      `[service.node]\ncommand = ${JSON.stringify(TENANT_COMMAND)}\nhealth = "/health"\n\n[instances]\nnode = ["zzz"]\n`,
    async (s) => {
      figures = await measureStack(s, o);
    },
  );
  return figures!;
}

async function measureStack(s: Stack, o: ScaleOptions): Promise<ScaleFigures> {
  const c = s.controller;
  const sleepers = o.registered - 1;
  const ids = Array.from({ length: sleepers }, (_, i) => pyId(i));
  // 1. Spawns in batches, each batch put to sleep once up (a thousand awake Pythons do not fit).
  let spawnMs: number | undefined;
  let bareSpawnMs: number | undefined;
  if (sleepers > 0) {
    // Spawn time only: putting each batch to sleep is not counted (the bare reference is killed).
    for (let i = 0; i < ids.length; i += o.batch) {
      const batch = ids.slice(i, i + o.batch);
      const t1 = performance.now();
      await Promise.all(batch.map((id) => c.control.spawn({ service: 'py', id })));
      spawnMs = (spawnMs ?? 0) + (performance.now() - t1);
      await Promise.all(batch.map((id) => c.supervisor.sleep({ service: 'py', id })));
    }
  }
  await c.router!.sync.flush();
  const caddyPid = c.managedCaddy!.runningPid()!;
  // 2. Idle: everything asleep but the Node instance. The storage meter walks each instance's folder
  // once after it ran (999 here, a one-off per run of an instance): timed apart, then steady state.
  const s0 = process.cpuUsage();
  await c.storage.measureAll();
  const su = process.cpuUsage(s0);
  const storagePassCpuMs = (su.user + su.system) / 1000;
  // Then a rest as long as the window: what the burst of spawns left (log files being indexed to
  // their end, V8 shrinking its heap) settles, and the window sees the steady state.
  await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
  const [{ share: controllerIdleCpu, gcMs: controllerIdleGcMs }, caddyIdleCpu] = await Promise.all([
    controllerCpuShare(o.idleSeconds * 1000),
    cpuShare(caddyPid, o.idleSeconds * 1000),
  ]);
  globalThis.gc?.();
  const controllerRssMb = rssMb(process.pid);
  const heapUsedMb = process.memoryUsage().heapUsed / 1024 / 1024;
  // Bare references after the memory figure: their child processes are this process's too.
  if (sleepers > 0) bareSpawnMs = await bareStarts(sleepers, o.batch);
  // 3. Warm requests: tenement's routes vs a static route to the same app, same Caddy binary.
  const zzz = c.supervisor.get({ service: 'node', id: 'zzz' })!;
  const { dir, cleanup } = tempDir('tenement-bench-static-');
  const staticPort = await freePort();
  const bare = await bareCaddy(
    dir,
    {
      admin: { disabled: true },
      apps: {
        http: {
          servers: {
            s: {
              listen: [`127.0.0.1:${staticPort}`],
              automatic_https: { disable: true },
              routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${zzz.port}` }] }] }],
            },
          },
        },
      },
    },
    `http://127.0.0.1:${staticPort}/health`,
  );
  const ten: number[] = [];
  const st: number[] = [];
  try {
    for (let r = 0; r < o.wrkRuns; r++) {
      st.push((await wrk(`http://127.0.0.1:${staticPort}/`, 'static', { seconds: o.wrkSeconds, pid: bare.pid })).rps);
      const t = await wrk(`http://127.0.0.1:${s.httpPort}/`, `zzz.node.${s.domain}`, { seconds: o.wrkSeconds, pid: caddyPid });
      if (t.errors > 0) throw new Error(`${t.errors} failed requests through tenement (${o.registered} registered)`);
      ten.push(t.rps);
    }
  } finally {
    await bare.stop();
    cleanup();
  }
  // 4. One weight change (one reload) vs a raw /load of the same config; then the same while
  // instances keep waking and falling asleep (churn), which must not make pushes dearer.
  const admin = new CaddyAdminClient(c.managedCaddy!.adminAddress);
  const pushes = async (): Promise<{ push: number; raw: number }> => {
    const push: number[] = [];
    const raw: number[] = [];
    for (let k = 0; k < o.pushes; k++) {
      const t0 = performance.now();
      // 0 and 100 alternately: each is a different tree (the service route's upstreams), one reload.
      // As `ten weight` does it: the call resolves once Caddy has the new routes.
      await c.control.setWeight({ service: 'node', id: 'zzz' }, k % 2 === 0 ? 0 : 100);
      push.push(performance.now() - t0);
      const config = new Serialized(fs.readFileSync(path.join(s.dataDir, '_caddy', 'caddy.json'), 'utf8'));
      const t1 = performance.now();
      await admin.load(config);
      raw.push(performance.now() - t1);
    }
    return { push: median(push), raw: median(raw) };
  };
  const calm = await pushes();
  let churn: { push: number; raw: number } | undefined;
  let churnCycles = 0;
  let churnFailures = 0;
  const churners = ids.slice(0, Math.min(4, ids.length));
  if (churners.length > 0) {
    let stop = false;
    const cycle = async (id: string) => {
      while (!stop) {
        const ok = await s.request(`${id}.py.${s.domain}`, '/', { fresh: true, timeoutMs: 60_000 }).then(
          (r) => r.statusCode === 200,
          () => false,
        );
        if (!ok) churnFailures++;
        await c.supervisor.sleep({ service: 'py', id });
        churnCycles++;
      }
    };
    const loops = churners.map((id) => cycle(id));
    try {
      churn = await pushes();
    } finally {
      stop = true;
      await Promise.all(loops);
    }
  }
  // 5. Simultaneous wakes of sleeping instances vs the same number of bare starts at once.
  let wakeMs: number | undefined;
  let bareWakeMs: number | undefined;
  let wakeAllOk = 0;
  const wakeIds = ids.slice(0, o.wakes);
  if (wakeIds.length > 0) {
    const t0 = performance.now();
    const res = await Promise.all(wakeIds.map((id) => s.request(`${id}.py.${s.domain}`, '/', { fresh: true, timeoutMs: 120_000 }).catch(() => undefined)));
    wakeMs = performance.now() - t0;
    wakeAllOk = res.filter((r) => r?.statusCode === 200).length;
    await Promise.all(wakeIds.map((id) => c.supervisor.sleep({ service: 'py', id })));
    bareWakeMs = await bareStarts(wakeIds.length, wakeIds.length);
  }
  // 6. Cold wake of one Python instance vs its bare start (start -> first 200).
  const target = sleepers > 0 ? ids[ids.length - 1]! : undefined;
  const wakes: number[] = [];
  const bares: number[] = [];
  if (target) {
    const { dir: bdir, cleanup: bclean } = tempDir('tenement-bench-cold-');
    try {
      for (let i = 0; i < o.coldWakes; i++) {
        await c.supervisor.sleep({ service: 'py', id: target });
        const t0 = performance.now();
        const r = await s.request(`${target}.py.${s.domain}`, '/', { fresh: true });
        wakes.push(performance.now() - t0);
        if (r.statusCode !== 200) throw new Error(`wake answered ${r.statusCode}`);
        const b = await bareStart(bdir, await freePort());
        bares.push(b.ms);
        await stopAll([b.child]);
      }
    } finally {
      bclean();
    }
    await c.supervisor.sleep({ service: 'py', id: target });
  }
  return {
    registered: o.registered,
    controllerIdleCpu,
    controllerIdleGcMs,
    storagePassCpuMs,
    caddyIdleCpu,
    controllerRssMb,
    heapUsedMb,
    tenementRps: median(ten),
    staticRps: median(st),
    pushMs: calm.push,
    rawLoadMs: calm.raw,
    churnPushMs: churn?.push,
    churnRawLoadMs: churn?.raw,
    churnCycles,
    churnFailures,
    spawnMs,
    bareSpawnMs,
    wakeAllOk,
    wakeMs,
    bareWakeMs,
    coldWakeMs: wakes.length ? median(wakes) : NaN,
    bareStartMs: bares.length ? median(bares) : NaN,
  };
}
