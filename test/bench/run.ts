// `npm run bench`: every figure of issue 9 side by side, at 1 and N registered instances (N = 1,000;
// `--quick`: 40, in under a minute), each as a ratio to its goal. Numbers are printed, never
// asserted: they depend on the machine (see docs/performance.md for figures and the machine).
import { hasWrk } from './measure.js';
import { routeCost } from './route-cost.js';
import { sandboxStartCost, type SandboxCost } from './sandbox-cost.js';
import { cgroupJoinWaits } from '../../src/isolation/cgroup.js';
import { PYTHON, scaleFigures, type ScaleFigures } from './scale.js';

const quick = process.argv.includes('--quick');
const N = Number(process.env.BENCH_N ?? (quick ? 40 : 1000));
const opts = quick
  ? { batch: 40, wrkSeconds: 2, wrkRuns: 2, idleSeconds: 3, wakes: 20, coldWakes: 3, pushes: 3 }
  : { batch: 40, wrkSeconds: 5, wrkRuns: 3, idleSeconds: 10, wakes: 100, coldWakes: 25, pushes: 11 };

interface Row {
  figure: string;
  at1: string;
  atN: string;
  goal: string;
  /** Value at N divided by the goal, oriented so that <= 1 meets it. */
  ratio: number | undefined;
}

const pctOf = (x: number) => `${(x * 100).toFixed(1)} %`;
const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(0)} ms`);
const r2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2));

/** A difference in ms with its sign: medians of noisy runs can come out below the reference. */
function signedMs(x: number): string {
  return `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(1)} ms`;
}

function rows(one: ScaleFigures, many: ScaleFigures, sandbox: SandboxCost | null): Row[] {
  const sandboxMs = sandbox?.totalMs ?? null;
  const warm = (f: ScaleFigures) => f.tenementRps / f.staticRps;
  const push = (f: ScaleFigures) => f.pushMs / f.rawLoadMs;
  return [
    { figure: 'controller CPU, all asleep', at1: pctOf(one.controllerIdleCpu), atN: pctOf(many.controllerIdleCpu), goal: '< 2 %', ratio: many.controllerIdleCpu / 0.02 },
    { figure: 'of the window, garbage collection', at1: `${one.controllerIdleGcMs.toFixed(0)} ms`, atN: `${many.controllerIdleGcMs.toFixed(0)} ms`, goal: '-', ratio: undefined },
    {
      figure: 'storage pass once after they ran (controller CPU)',
      at1: ms(one.storagePassCpuMs),
      atN: ms(many.storagePassCpuMs),
      goal: '-',
      ratio: undefined,
    },
    { figure: 'Caddy CPU, all asleep', at1: pctOf(one.caddyIdleCpu), atN: pctOf(many.caddyIdleCpu), goal: '< 2 %', ratio: many.caddyIdleCpu / 0.02 },
    {
      figure: 'warm req/s tenement / static route',
      at1: `${r2(warm(one))} (${one.tenementRps.toFixed(0)}/${one.staticRps.toFixed(0)})`,
      atN: `${r2(warm(many))} (${many.tenementRps.toFixed(0)}/${many.staticRps.toFixed(0)})`,
      goal: '>= 0.95',
      ratio: 0.95 / Math.min(warm(one), warm(many)),
    },
    {
      figure: 'controller RSS (heap used)',
      at1: `${one.controllerRssMb.toFixed(0)} MB (${one.heapUsedMb.toFixed(0)})`,
      atN: `${many.controllerRssMb.toFixed(0)} MB (${many.heapUsedMb.toFixed(0)})`,
      goal: '<= 120 MB',
      ratio: many.controllerRssMb / 120,
    },
    {
      figure: 'weight change / raw Caddy /load',
      at1: `${r2(push(one))} (${ms(one.pushMs)}/${ms(one.rawLoadMs)})`,
      atN: `${r2(push(many))} (${ms(many.pushMs)}/${ms(many.rawLoadMs)})`,
      goal: '<= 1.2x',
      ratio: push(many) / 1.2,
    },
    {
      figure: 'the same while 4 instances keep waking and sleeping',
      at1: '-',
      atN:
        many.churnPushMs !== undefined && many.churnRawLoadMs !== undefined
          ? `${r2(many.churnPushMs / many.churnRawLoadMs)} (${ms(many.churnPushMs)}/${ms(many.churnRawLoadMs)}; ${many.churnCycles} cycles, ${many.churnFailures} failed)`
          : '-',
      goal: '<= 1.2x',
      ratio: many.churnPushMs !== undefined && many.churnRawLoadMs !== undefined ? many.churnPushMs / many.churnRawLoadMs / 1.2 : undefined,
    },
    {
      figure: `${many.registered - 1} spawns (batches of ${opts.batch}) / bare`,
      at1: '-',
      atN: many.spawnMs && many.bareSpawnMs ? `${r2(many.spawnMs / many.bareSpawnMs)} (${ms(many.spawnMs)}/${ms(many.bareSpawnMs)})` : '-',
      goal: '<= 1.5x',
      ratio: many.spawnMs && many.bareSpawnMs ? many.spawnMs / many.bareSpawnMs / 1.5 : undefined,
    },
    {
      figure: `${opts.wakes} simultaneous wakes / bare starts`,
      at1: '-',
      atN: many.wakeMs && many.bareWakeMs ? `${many.wakeAllOk} x 200; ${r2(many.wakeMs / many.bareWakeMs)} (${ms(many.wakeMs)}/${ms(many.bareWakeMs)})` : '-',
      goal: 'all 200; <= 1.5x',
      ratio: many.wakeMs && many.bareWakeMs ? (many.wakeAllOk < Math.min(opts.wakes, many.registered - 1) ? Infinity : many.wakeMs / many.bareWakeMs / 1.5) : undefined,
    },
    {
      figure: 'cold wake median - bare start (Python)',
      at1: '-',
      atN: `${signedMs(many.coldWakeMs - many.bareStartMs)} (${ms(many.coldWakeMs)}/${ms(many.bareStartMs)})`,
      goal: '<= +10 ms',
      ratio: Math.max(0, many.coldWakeMs - many.bareStartMs) / 10,
    },
    ...(sandboxMs === null
      ? []
      : [
          {
            figure: 'of which the sandbox (sh, bwrap, env, setpriv per start)',
            at1: '-',
            atN: signedMs(sandboxMs),
            goal: '-',
            ratio: undefined,
          },
          {
            figure: `of the sandbox, sh joining the cgroup (${cgroupJoinWaits() ? 'the kernel waits: no favordynmods' : 'favordynmods: no wait'})`,
            at1: '-',
            atN: signedMs(sandbox!.joinMs),
            goal: '-',
            ratio: undefined,
          },
          {
            figure: "cold wake - bare - sandbox (tenement's own)",
            at1: '-',
            atN: signedMs(many.coldWakeMs - many.bareStartMs - sandboxMs),
            goal: '<= +10 ms',
            ratio: Math.max(0, many.coldWakeMs - many.bareStartMs - sandboxMs) / 10,
          },
        ]),
  ];
}

async function main(): Promise<void> {
  if (!hasWrk()) {
    console.error('wrk is not installed (Debian: apt-get install -y wrk); `npm run bench` installs it when run as root');
    process.exit(1);
  }
  const t0 = performance.now();
  console.log(
    `tenement bench${quick ? ' (--quick)' : ''}: 1 and ${N} registered; machine: ${(await import('node:os')).cpus().length} cores, load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
  );
  const tree = await routeCost([1, N], quick ? 2 : 4, quick ? 1 : 3);
  console.log('\nCaddy route tree alone (caddy/routes.ts, target host last), same Caddy process as a static route:');
  for (const r of tree) {
    console.log(
      `  ${String(r.registered).padStart(5)} registered: ${(r.tenementRps / r.staticRps).toFixed(2)} of static req/s (${r.tenementRps.toFixed(0)}/${r.staticRps.toFixed(0)}); Caddy CPU ${r.tenementCpuUs.toFixed(0)} us/req vs ${r.staticCpuUs.toFixed(0)} static`,
    );
  }
  const one = await scaleFigures({ registered: 1, ...opts });
  const many = await scaleFigures({ registered: N, ...opts });
  const sandbox = await sandboxStartCost([PYTHON, '-c', 'import http.server'], quick ? 10 : 30);
  const table = rows(one, many, sandbox);
  console.log(`\n| figure | 1 registered | ${N} registered | goal | at ${N} / goal | met |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of table) {
    const met = r.ratio === undefined ? '-' : r.ratio <= 1 ? 'yes' : 'no';
    console.log(`| ${r.figure} | ${r.at1} | ${r.atN} | ${r.goal} | ${r.ratio === undefined ? '-' : r.ratio === Infinity ? 'failed' : r.ratio.toFixed(2)} | ${met} |`);
  }
  console.log(`\n(ratio to goal: <= 1 meets it. Took ${((performance.now() - t0) / 1000).toFixed(0)} s.)`);
}

await main();
