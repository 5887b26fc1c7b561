// `npm run bench`: speed and memory goals, measured against a real Caddy and real tenant processes.
// Numbers are printed, never asserted (they depend on the machine); the issue targets are noted.
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { withStack } from '../helpers/stack.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { TENANT_APP } from '../helpers/paths.js';
import { probe } from '../../src/supervisor/health-probe.js';
import { freePort } from '../helpers/controller-process.js';
import { routeCost } from './route-cost.js';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** The app's own start: spawn to first passing health check, polled the way the supervisor polls. */
async function appStartMs(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [TENANT_APP], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  let interval = 5;
  for (;;) {
    if ((await probe(port, '/health', 1000)).ok) break;
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 2, 50);
  }
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

async function coldWake(cycles: number): Promise<void> {
  const own: number[] = [];
  for (let i = 0; i < cycles; i++) own.push(await appStartMs());
  const wake: number[] = [];
  await withStack(
    (d) => `[settings]\ndata_dir = ${JSON.stringify(d)}\n${portRange().toml}\n[service.api]\ncommand = ${JSON.stringify(TENANT_COMMAND)}\nhealth = "/health"\n\n[instances]\napi = ["w"]\n`,
    async (s) => {
      for (let i = 0; i < cycles; i++) {
        await s.controller.supervisor.sleep({ service: 'api', id: 'w' });
        const t0 = performance.now();
        const r = await s.request('w.api.localhost', '/', { fresh: true });
        wake.push(performance.now() - t0);
        if (r.statusCode !== 200) throw new Error(`wake answered ${r.statusCode}`);
      }
    },
  );
  const overhead = pct(wake, 50) - pct(own, 50);
  console.log(`cold wake through Caddy (${cycles} cycles, Node tenant):`);
  console.log(`  app's own start (spawn -> healthy): median ${fmt(pct(own, 50))}, p90 ${fmt(pct(own, 90))}`);
  console.log(`  request to a sleeping instance:     median ${fmt(pct(wake, 50))}, p90 ${fmt(pct(wake, 90))}`);
  console.log(`  added by tenement + Caddy:          median ${fmt(overhead)}   (goal: well under 20 ms)`);
}

async function pushCost(sizes: number[]): Promise<void> {
  console.log('Caddy config push (one weight change = one reload), by number of instances:');
  for (const n of sizes) {
    await withStack(
      (d) => `[settings]\ndata_dir = ${JSON.stringify(d)}\n${portRange().toml}\n[service.api]\ncommand = ${JSON.stringify(TENANT_COMMAND)}\nhealth = "/health"\n`,
      async (s) => {
        const ids = Array.from({ length: n }, (_, i) => `i${i}`);
        const t0 = performance.now();
        // Batches of 25 concurrent spawns, like a burst of signups.
        for (let i = 0; i < ids.length; i += 25) await Promise.all(ids.slice(i, i + 25).map((id) => s.controller.control.spawn({ service: 'api', id })));
        await s.controller.router!.sync.flush();
        const spawnMs = performance.now() - t0;
        const changesBefore = s.caddyChanges();
        const times: number[] = [];
        for (let k = 0; k < 5; k++) {
          const t = performance.now();
          await s.controller.control.setWeight({ service: 'api', id: 'i0' }, 50 + k);
          times.push(performance.now() - t);
        }
        const rss = process.memoryUsage().rss / 1024 / 1024;
        console.log(
          `  ${String(n).padStart(4)} instances: push median ${fmt(pct(times, 50))}; ${n} spawns took ${(spawnMs / 1000).toFixed(1)} s with ${changesBefore} Caddy changes in all; controller+test RSS ${rss.toFixed(0)} MB`,
        );
      },
    );
  }
}

async function main(): Promise<void> {
  // A socket to nowhere: fail fast if Caddy is missing rather than in the middle.
  await new Promise<void>((resolve) => {
    const sock = net.connect(1, '127.0.0.1');
    sock.once('error', () => resolve());
    sock.once('connect', () => (sock.destroy(), resolve()));
  });
  if (process.env.BENCH_ONLY === 'routes') {
    for (const r of await routeCost([1, 1000], 4, 3, process.env.BENCH_ACCESS_LOG === '1')) {
      console.log(`route tree, ${r.registered} registered: static ${r.staticRps.toFixed(0)} req/s (${r.staticCpuUs.toFixed(0)} us Caddy CPU/req), tenement ${r.tenementRps.toFixed(0)} req/s (${r.tenementCpuUs.toFixed(0)} us/req): ratio ${(r.tenementRps / r.staticRps).toFixed(2)}`);
    }
    return;
  }
  await coldWake(Number(process.env.BENCH_WAKES ?? 15));
  await pushCost((process.env.BENCH_SIZES ?? '10,100,300').split(',').map(Number));
}

await main();
