// Caddy's fast path: warm requests through the route tree tenement builds (caddy/routes.ts, in the
// managed config) against one static reverse_proxy route to the same app, in the same Caddy
// process, with 1 and N registered instances and the target host last in route order.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildManagedConfig } from '../../caddy/managed-config.js';
import { buildTenementRoute, type RoutingState } from '../../caddy/routes.js';
import { BASELINE } from '../../caddy/features.js';
import { freePort } from '../helpers/controller-process.js';
import { TENANT_APP } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp-dir.js';
import { probe } from '../../src/supervisor/health-probe.js';
import { waitFor } from '../../src/util/wait.js';
import { bareCaddy, median, wrk } from './measure.js';

export interface RouteCost {
  registered: number;
  staticRps: number;
  tenementRps: number;
  staticCpuUs: number;
  tenementCpuUs: number;
}

/** Ids that sort before the target, so the target host is last in every ordering tenement uses. */
const idOf = (i: number) => `t${String(i).padStart(5, '0')}`;

/** `accessLog`: with settings.request_metrics on (Caddy writes a JSON line per request). */
export async function routeCost(counts: number[], seconds: number, rounds: number, accessLog = false): Promise<RouteCost[]> {
  const { dir, cleanup } = tempDir('tenement-bench-routes-');
  const appPort = await freePort();
  const app = spawn(process.execPath, [TENANT_APP], { env: { ...process.env, PORT: String(appPort) }, stdio: 'ignore' });
  const out: RouteCost[] = [];
  try {
    await waitFor(async () => (await probe(appPort, '/health', 1000)).ok, { timeoutMs: 10_000, what: 'bench app' });
    for (const n of counts) {
      const staticPort = await freePort();
      const tenPort = await freePort();
      const gates = path.join(dir, `gates-${n}`);
      fs.mkdirSync(gates, { recursive: true });
      const state: RoutingState = {
        domain: 'localhost',
        services: [{ name: 'api', health: '/health', healthIntervalSec: 10, requestTimeoutSec: 30 }],
        instances: [
          ...Array.from({ length: n - 1 }, (_, i) => ({ service: 'api', id: idOf(i), port: 40000 + i, weight: 0 })),
          { service: 'api', id: 'zzz', port: appPort, weight: 100 },
        ],
        routing: { default: undefined, subdomain: {}, path: {} },
        controllerDial: '127.0.0.1:1',
        gateDir: gates,
        wakeKey: 'bench',
        features: BASELINE,
      };
      const config = buildManagedConfig({
        adminListen: `unix/${path.join(dir, `admin-${n}.sock`)}`,
        httpListen: [`127.0.0.1:${tenPort}`],
        accessLogFile: accessLog ? path.join(dir, `access-${n}.log`) : undefined,
        gracePeriodSec: 5,
        route: buildTenementRoute(state),
      }) as { apps: { http: { servers: Record<string, unknown> } } };
      config.apps.http.servers.static = {
        listen: [`127.0.0.1:${staticPort}`],
        automatic_https: { disable: true },
        routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${appPort}` }] }] }],
      };
      const caddy = await bareCaddy(path.join(dir, `caddy-${n}`), config, `http://127.0.0.1:${staticPort}/health`);
      try {
        const s: { rps: number[]; cpu: number[] } = { rps: [], cpu: [] };
        const t: { rps: number[]; cpu: number[] } = { rps: [], cpu: [] };
        for (let r = 0; r < rounds; r++) {
          // Alternating, so a busy moment of the machine hits both sides alike.
          const a = await wrk(`http://127.0.0.1:${staticPort}/`, 'static.localhost', { seconds, pid: caddy.pid });
          const b = await wrk(`http://127.0.0.1:${tenPort}/`, 'zzz.api.localhost', { seconds, pid: caddy.pid });
          if (b.errors > 0) throw new Error(`${b.errors} failed requests through tenement's routes (${n} registered)`);
          s.rps.push(a.rps);
          s.cpu.push(a.cpuUsPerReq);
          t.rps.push(b.rps);
          t.cpu.push(b.cpuUsPerReq);
        }
        out.push({ registered: n, staticRps: median(s.rps), tenementRps: median(t.rps), staticCpuUs: median(s.cpu), tenementCpuUs: median(t.cpu) });
      } finally {
        await caddy.stop();
      }
    }
  } finally {
    app.kill('SIGKILL');
    cleanup();
  }
  return out;
}
