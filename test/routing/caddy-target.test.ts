// Where tenement's route lives in a managed Caddy (real Caddy): a change inside the routes subroute
// is one PATCH of it, anything else one /load, and Caddy ends up holding the whole config either way.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import got from 'got';
import { BASELINE } from '../../caddy/features.js';
import { ManagedCaddy } from '../../caddy/managed-caddy.js';
import { buildTenementRoute, type CaddyRoute, type RouteInstance, type RoutingState } from '../../caddy/routes.js';
import { ManagedTarget } from '../../src/routing/caddy-target.js';
import { caddyProcessHost } from '../../src/routing/caddy-process-host.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Fixture {
  caddy: ManagedCaddy;
  httpPort: number;
  /** A Node HTTP server standing in for an awake instance: answers `app <port>`. */
  appPort: number;
  gateDir: string;
  target(): ManagedTarget;
  state(instances: RouteInstance[]): RoutingState;
  /** Admin calls that changed Caddy's config, as "PATCH /id/..." or "POST /load". */
  calls: string[];
}

async function fixture(t: TestContext): Promise<Fixture> {
  const { dir, cleanup } = tempDir('tenement-target-');
  const caddy = new ManagedCaddy('caddy', path.join(dir, 'data'), silentLogger, caddyProcessHost());
  const app = http.createServer((_req, res) => res.end(`app ${appPort}`));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as { port: number }).port;
  t.after(async () => {
    await caddy.stop();
    await new Promise((resolve) => app.close(resolve));
    cleanup();
  });
  const httpPort = await freePort();
  const gateDir = path.join(dir, 'gates');
  fs.mkdirSync(gateDir);
  const calls: string[] = [];
  const admin = caddy.admin;
  const patch = admin.patch.bind(admin);
  const load = admin.load.bind(admin);
  admin.patch = (p, v) => (calls.push(`PATCH ${p}`), patch(p, v));
  admin.load = (c) => (calls.push('POST /load'), load(c));
  return {
    caddy,
    httpPort,
    appPort,
    gateDir,
    calls,
    target: () => new ManagedTarget(caddy, { adminListen: caddy.adminAddress, httpListen: [`127.0.0.1:${httpPort}`], accessLogFile: undefined, gracePeriodSec: 1 }),
    state: (instances) => ({
      domain: 'localhost',
      services: [{ name: 'app', health: undefined, healthIntervalSec: 10, requestTimeoutSec: 30 }],
      instances,
      routing: { default: undefined, subdomain: {}, path: {} },
      controllerDial: '127.0.0.1:1',
      gateDir,
      wakeKey: 'k',
      features: BASELINE,
    }),
  };
}

async function get(f: Fixture, host: string): Promise<{ status: number; body: string }> {
  const res = await got(`http://127.0.0.1:${f.httpPort}/`, { headers: { host }, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 10_000 } });
  return { status: res.statusCode, body: res.body };
}

/** Caddy's whole config equals what tenement saved for a restart, which equals the config of `route`. */
async function holds(f: Fixture, target: ManagedTarget, route: CaddyRoute): Promise<void> {
  const want = JSON.parse(JSON.stringify(target.config(route))) as unknown;
  assert.deepEqual(await f.caddy.admin.get('/config/'), want, "Caddy's config");
  assert.deepEqual(JSON.parse(fs.readFileSync(f.caddy.paths.configFile, 'utf8')), want, 'the config saved for a restarted Caddy');
}

/** Instance app:a at weight `weight`, on the fixture's app. */
const memberA = (f: Fixture, weight: number): RouteInstance => ({ service: 'app', id: 'a', port: f.appPort, weight });

/** A managed Caddy started and loaded by a target with app:a at weight 0. */
async function loadedWithA(f: Fixture): Promise<{ target: ManagedTarget; off: CaddyRoute }> {
  const target = f.target();
  const off = buildTenementRoute(f.state([memberA(f, 0)]));
  await f.caddy.ensure(target.config(off));
  await target.write(off);
  return { target, off };
}

test('a weight change reaches a managed Caddy as one PATCH of the routes subroute; a new instance as one /load', async (t) => {
  const f = await fixture(t);
  const { target, off } = await loadedWithA(f);
  assert.deepEqual(f.calls, ['POST /load'], 'nothing known of what Caddy holds: the whole config');
  assert.equal((await get(f, 'app.localhost')).status, 503, 'no member takes traffic yet');

  const on = buildTenementRoute(f.state([memberA(f, 100)]), off);
  await target.write(on, off);
  assert.deepEqual(f.calls.slice(1), ['PATCH /id/tenement-routes'], 'a weight change: only the subroute');
  await holds(f, target, on);
  assert.deepEqual(await get(f, 'app.localhost'), { status: 200, body: `app ${f.appPort}` }, 'the service host now reaches the member');
  assert.deepEqual(await get(f, 'a.app.localhost'), { status: 200, body: `app ${f.appPort}` }, 'and the instance host still does');

  const more = buildTenementRoute(f.state([memberA(f, 100), { service: 'app', id: 'b', port: f.appPort, weight: 0 }]), on);
  await target.write(more, on);
  assert.deepEqual(f.calls.slice(2), ['POST /load'], 'a new instance changes the host lookup: the whole config');
  await holds(f, target, more);
  assert.deepEqual(await get(f, 'b.app.localhost'), { status: 200, body: `app ${f.appPort}` });
});

test('a PATCH that Caddy cannot take (its config was replaced behind tenement) falls back to a /load in the same write', async (t) => {
  const f = await fixture(t);
  const { target, off } = await loadedWithA(f);
  // Someone loads a config without tenement's route (same admin endpoint, so it stays reachable).
  const bare = target.config({ handle: [{ handler: 'static_response', body: 'not tenement' }] });
  await f.caddy.admin.load(bare);
  assert.equal((await get(f, 'app.localhost')).body, 'not tenement');

  const on = buildTenementRoute(f.state([memberA(f, 100)]), off);
  f.calls.length = 0;
  await target.write(on, off);
  assert.deepEqual(f.calls, ['PATCH /id/tenement-routes', 'POST /load']);
  await holds(f, target, on);
  assert.equal((await get(f, 'app.localhost')).body, `app ${f.appPort}`);
});

test('a target that has not loaded the whole config itself (a new controller) loads it, even when told what Caddy holds', async (t) => {
  const f = await fixture(t);
  const { off } = await loadedWithA(f);
  const on = buildTenementRoute(f.state([memberA(f, 100)]), off);
  const next = f.target();
  f.calls.length = 0;
  await next.write(on, off);
  assert.deepEqual(f.calls, ['POST /load'], 'the listeners or TLS around the route may differ from what Caddy runs');
  await holds(f, next, on);
});
