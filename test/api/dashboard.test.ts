// The API's additions for the dashboard: GET /api/history (tenant-scoped), GET /api/whoami,
// POST /api/instances/:i/wake, and the static page with its security and caching headers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { DASHBOARD_CSP, dashboardRoutes } from '../../src/api/routes/dashboard.js';
import type { ApiEnv } from '../../src/api/env.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startTestApi, type TestApi } from './helpers.js';

type Json = Record<string, unknown>;
let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
});

describe('GET /api/history', () => {
  it('needs a token; admin sees every instance, a tenant only its own', async () => {
    assert.equal((await t.anon.get('api/history')).statusCode, 401);
    const h = t.deps.metrics.history;
    t.deps.metrics.observeRequest({ service: 'api', instance: 'alice', status: 200, durationMs: 12 });
    t.deps.metrics.observeRequest({ service: 'api', instance: 'bob', status: 502, durationMs: 40 });
    t.deps.metrics.observeRestart({ service: 'api', instance: 'bob' });
    assert.equal(h.snapshot().instances.length, 2);

    const admin = JSON.parse((await t.admin.get('api/history')).body) as { instances: Json[]; services: Json[]; points: number; step_secs: number };
    assert.deepEqual(
      admin.instances.map((i) => i.instance),
      ['api:alice', 'api:bob'],
    );
    assert.equal((admin.services[0]!.requests as number[]).at(-1), 2);
    assert.equal(admin.points, 120);
    assert.equal(admin.step_secs, 30);

    const alice = JSON.parse((await t.tenant('alice').get('api/history')).body) as { instances: Json[]; services: Json[] };
    assert.deepEqual(
      alice.instances.map((i) => i.instance),
      ['api:alice'],
    );
    assert.equal((alice.services[0]!.requests as number[]).at(-1), 1, "service sums hold the tenant's own requests only");
    assert.equal((alice.services[0]!.restarts as number[]).at(-1), 0);

    const other = await t.tenant('alice').get('api/history', { searchParams: { id: 'bob' } });
    assert.equal(other.statusCode, 403);
    assert.match((JSON.parse(other.body) as { error: string }).error, /tenant "alice"/);
    assert.equal((await t.admin.get('api/history', { searchParams: { process: 'Bad_Name' } })).statusCode, 400);
  });
});

describe('request_metrics in GET /api/history and /api/telemetry', () => {
  it('says whether requests are counted at all, so empty request series are not read as "no traffic"', async () => {
    const read = async () => ({
      history: (JSON.parse((await t.admin.get('api/history')).body) as Json).request_metrics,
      telemetry: (JSON.parse((await t.tenant('alice').get('api/telemetry')).body) as Json).request_metrics,
    });
    assert.deepEqual(await read(), { history: false, telemetry: false });
    t.deps.metrics.history.countRequests();
    assert.deepEqual(await read(), { history: true, telemetry: true });
  });
});

describe('resources on instances', () => {
  it('carries memory, CPU time and their limits when the controller reports them, null fields otherwise', async () => {
    t.control.add('api', 'res', { observed: 'running' });
    const get = async () => JSON.parse((await t.tenant('res').get('api/instances/api:res')).body) as Json;
    const before = await get();
    assert.deepEqual([before.memory_used_bytes, before.memory_limit_bytes, before.cpu_time_secs, before.cpu_shares], [null, null, null, null]);
    t.control.resources = () => ({ memoryUsedBytes: 3_000_000, memoryLimitBytes: 64 * 1024 * 1024, cpuTimeSecs: 1.23456, cpuShares: 50 });
    try {
      const one = await get();
      assert.deepEqual([one.memory_used_bytes, one.memory_limit_bytes, one.cpu_time_secs, one.cpu_shares], [3_000_000, 64 * 1024 * 1024, 1.23, 50]);
      const list = JSON.parse((await t.admin.get('api/instances')).body) as Json[];
      assert.equal(list.find((i) => i.id === 'api:res')!.memory_used_bytes, 3_000_000, 'the list carries them too');
    } finally {
      delete t.control.resources;
    }
  });
});

describe('GET /api/whoami', () => {
  it('says whose token it is, never more', async () => {
    assert.deepEqual(JSON.parse((await t.tenant('alice').get('api/whoami')).body) as Json, {
      token_id: (JSON.parse((await t.admin.get('api/tokens')).body) as Json[]).find((x) => x.tenant === 'alice')!.id,
      tenant: 'alice',
      admin: false,
    });
    const admin = JSON.parse((await t.admin.get('api/whoami')).body) as Json;
    assert.equal(admin.admin, true);
    assert.equal(admin.tenant, null);
    assert.equal((await t.anon.get('api/whoami')).statusCode, 401);
  });
});

describe('POST /api/instances/:instance/wake', () => {
  it('wakes an instance, audited; a tenant only its own; 404 for none', async () => {
    t.control.add('api', 'sleepy', { observed: 'asleep', desired: 'asleep', pid: null });
    const res = await t.tenant('sleepy').post('api/instances/api:sleepy/wake');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((JSON.parse(res.body) as Json).state, 'running');
    assert.ok(t.control.calls.includes('wake api:sleepy'));
    const audit = JSON.parse((await t.admin.get('api/audit', { searchParams: { target: 'api:sleepy' } })).body) as Json[];
    assert.equal(audit[0]!.action, 'wake');
    assert.equal((await t.tenant('alice').post('api/instances/api:sleepy/wake')).statusCode, 403);
    assert.equal((await t.admin.post('api/instances/api:nobody/wake')).statusCode, 404);
  });
});

describe('the dashboard page', () => {
  it('serves the page (no-cache, ETag) and hashed assets (immutable), with the CSP; says how to build when missing', async () => {
    const { dir, cleanup } = tempDir('tenement-web-');
    try {
      const app = new Hono<ApiEnv>();
      app.route('/', dashboardRoutes(dir));
      const missing = await app.request('/');
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /npm run build/);

      fs.mkdirSync(path.join(dir, 'assets'));
      fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="./assets/index-abc123.js"></script>');
      const script = 'console.log("tenement");\n'.repeat(50);
      fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), script);
      const page = await app.request('/');
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const etag = page.headers.get('etag')!;
      assert.equal((await app.request('/', { headers: { 'if-none-match': etag } })).status, 304);

      const js = await app.request('/assets/index-abc123.js');
      assert.equal(js.status, 200);
      assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.equal(js.headers.get('content-encoding'), null, 'not compressed unless asked');
      assert.equal(await js.text(), script);
      const zipped = await app.request('/assets/index-abc123.js', { headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(zipped.headers.get('content-encoding'), 'gzip');
      assert.equal(zlib.gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString(), script);
      for (const bad of ['/assets/..%2Findex.html', '/assets/nope-1.js', '/assets/index-abc123.exe', '/assets/.hidden']) {
        assert.equal((await app.request(bad)).status, 404, bad);
      }
    } finally {
      cleanup();
    }
  });

  it('is mounted at / of the API server and is public (it holds no data)', async () => {
    const res = await t.anon.get('');
    // Built (dist/web) in a normal test run: the page; otherwise the hint to build it.
    assert.ok(res.statusCode === 200 || /npm run build/.test(res.body), `${res.statusCode} ${res.body.slice(0, 200)}`);
    if (res.statusCode === 200) assert.equal(res.headers['content-security-policy'], DASHBOARD_CSP);
  });
});
