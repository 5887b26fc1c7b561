// /api/instances, /api/deploy, /api/route: good and bad input, and that bad input changes nothing.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ControlPlaneError } from '../../src/api/contract.js';
import { PortRangeExhaustedError } from '../../src/supervisor/port-allocator.js';
import { SpawnError } from '../../src/supervisor/errors.js';
import { TimeoutError } from '../../src/util/wait.js';
import { startTestApi, type TestApi } from './helpers.js';

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
});
beforeEach(() => {
  t.control.records.clear();
  t.control.calls.length = 0;
  t.control.behaviour = {};
});

type Json = Record<string, unknown>;
const body = (res: { body: string }) => JSON.parse(res.body) as Json;

describe('GET /api/instances', () => {
  it('lists every instance with the original fields and more', async () => {
    t.control.add('api', 'alice');
    t.control.add('notes', 'bob', { observed: 'asleep', pid: null, startedAt: null });
    const res = await t.admin.get('api/instances');
    assert.equal(res.statusCode, 200);
    const list = JSON.parse(res.body) as Json[];
    assert.deepEqual(
      list.map((i) => i.id),
      ['api:alice', 'notes:bob'],
    );
    const a = list[0]!;
    assert.equal(a.process, 'api');
    assert.equal(a.instance_id, 'alice');
    assert.equal(a.health, 'healthy');
    assert.equal(a.restarts, 0);
    assert.ok((a.uptime_secs as number) >= 65);
    assert.equal(a.url, 'http://alice.api.localhost:8000');
    assert.equal(list[1]!.uptime_secs, null, 'asleep: no uptime');
  });

  it('filters by ?process= and rejects a bad one', async () => {
    t.control.add('api', 'alice');
    t.control.add('notes', 'alice');
    const res = await t.admin.get('api/instances?process=notes');
    assert.deepEqual(
      (JSON.parse(res.body) as Json[]).map((i) => i.id),
      ['notes:alice'],
    );
    const bad = await t.admin.get('api/instances?process=Bad_Name');
    assert.equal(bad.statusCode, 400);
    assert.match(body(bad).error as string, /query parameter "process" must be lower case/);
  });

  it('shows instance detail, 404 for an unknown one, 400 for a malformed name', async () => {
    t.control.add('api', 'alice', { restartCount: 2, lastError: 'exit code 1' });
    const ok = await t.admin.get('api/instances/api:alice');
    assert.equal(ok.statusCode, 200);
    assert.equal(body(ok).restarts, 2);
    assert.equal(body(ok).last_error, 'exit code 1');
    assert.equal(typeof body(ok).port, 'number');
    const missing = await t.admin.get('api/instances/api:zed');
    assert.equal(missing.statusCode, 404);
    assert.match(body(missing).error as string, /api:zed does not exist/);
    for (const bad of ['api', 'api:alice:x', 'api:..', 'API:alice', 'api:-x']) {
      const res = await t.admin.get(`api/instances/${encodeURIComponent(bad)}`);
      assert.equal(res.statusCode, 400, bad);
      assert.ok(typeof body(res).error === 'string');
    }
  });
});

describe('POST /api/instances/spawn', () => {
  it('spawns and answers with the original fields (instance, port) and the audit has it', async () => {
    const res = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'carol' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(body(res).instance, 'api:carol');
    assert.equal(typeof body(res).port, 'number');
    assert.deepEqual(t.control.calls, ['spawn api:carol']);
    const audit = t.deps.audit.list({ target: 'api:carol' });
    assert.equal(audit[0]?.action, 'spawn');
    assert.match(audit[0]!.actor, /^tok_/);
    assert.match(audit[0]!.detail ?? '', /"ok":true/);
  });

  it('rejects bad bodies with 400 and changes nothing', async () => {
    const cases: [string | Buffer, RegExp][] = [
      ['', /request body is empty/],
      ['{not json', /not valid JSON/],
      ['[1,2]', /must be a JSON object, got an array/],
      ['"x"', /must be a JSON object, got string/],
      [JSON.stringify({ process: 'api' }), /field "id" .* must be a string, got nothing/],
      [JSON.stringify({ process: 'api', id: 7 }), /field "id" .* must be a string, got 7/],
      [JSON.stringify({ process: 'api', id: '../etc' }), /field "id" .* must be a DNS label/],
      [JSON.stringify({ process: 'api', id: 'Alice' }), /must be lower case/],
      [JSON.stringify({ process: 'api', id: 'a'.repeat(64) }), /at most 63/],
      [JSON.stringify({ process: 'api', id: 'x', extra: 1 }), /unknown field "extra"/],
    ];
    for (const [payload, message] of cases) {
      const res = await t.admin.post('api/instances/spawn', { body: payload, headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 400, `${String(payload)} -> ${res.body}`);
      assert.match(body(res).error as string, message);
    }
    assert.deepEqual(t.control.calls, []);
    assert.equal(t.deps.audit.list().filter((e) => e.action === 'spawn' && e.target === 'api:x').length, 0);
  });

  it('413 for a body over 64 KiB', async () => {
    const res = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'x', pad: 'x'.repeat(70_000) } });
    assert.equal(res.statusCode, 413);
    assert.match(body(res).error as string, /larger than 65536 bytes/);
    assert.deepEqual(t.control.calls, []);
  });

  it('404 for an unknown service, 409 for an existing instance', async () => {
    const unknown = await t.admin.post('api/instances/spawn', { json: { process: 'nope', id: 'x' } });
    assert.equal(unknown.statusCode, 404);
    assert.match(body(unknown).error as string, /service "nope" is not defined .*defined: api, notes/);
    t.control.add('api', 'alice');
    const dup = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'alice' } });
    assert.equal(dup.statusCode, 409);
    assert.match(body(dup).error as string, /already exists/);
    assert.deepEqual(t.control.calls, []);
  });

  it('a failing spawn is a 500 with the reason, and is audited as failed', async () => {
    t.control.behaviour.spawnError = new Error('api:dave exited with code 1 before it became healthy');
    const res = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'dave' } });
    assert.equal(res.statusCode, 500);
    assert.match(body(res).error as string, /exited with code 1/);
    const audit = t.deps.audit.list({ target: 'api:dave' });
    assert.match(audit[0]!.detail ?? '', /"ok":false/);
  });
});

describe('stop, restart, weight, health', () => {
  it('DELETE stops with 204; unknown 404', async () => {
    t.control.add('api', 'alice');
    const res = await t.admin.delete('api/instances/api:alice');
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.equal(t.control.get({ service: 'api', id: 'alice' }), undefined);
    const again = await t.admin.delete('api/instances/api:alice');
    assert.equal(again.statusCode, 404);
    assert.equal(t.deps.audit.list({ target: 'api:alice' })[0]?.action, 'stop');
  });

  it('restart returns the instance', async () => {
    t.control.add('api', 'alice');
    const res = await t.admin.post('api/instances/api:alice/restart');
    assert.equal(res.statusCode, 200);
    assert.equal(body(res).instance, 'api:alice');
    assert.equal(body(res).restarts, 1);
    assert.equal((await t.admin.post('api/instances/api:nobody/restart')).statusCode, 404);
  });

  it('weight: 0-100 integers only', async () => {
    t.control.add('api', 'alice');
    const ok = await t.admin.put('api/instances/api:alice/weight', { json: { weight: 25 } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(body(ok), { instance: 'api:alice', weight: 25 });
    for (const [w, status] of [
      [101, 422],
      [-1, 422],
      [2.5, 400],
      ['50', 400],
      [null, 400],
    ] as const) {
      const res = await t.admin.put('api/instances/api:alice/weight', { json: { weight: w } });
      assert.equal(res.statusCode, status, `weight ${String(w)}`);
    }
    assert.equal(t.control.get({ service: 'api', id: 'alice' })!.weight, 25, 'unchanged by bad requests');
    const missing = await t.admin.put('api/instances/api:zed/weight', { json: { weight: 1 } });
    assert.equal(missing.statusCode, 404);
    assert.match(t.deps.audit.list({ target: 'api:alice' })[0]!.detail ?? '', /"from":100,"to":25/);
  });

  it('health probes the instance', async () => {
    t.control.add('api', 'alice', { health: 'degraded' });
    t.control.behaviour.probe = { ok: false, detail: 'GET /health -> 503' };
    const res = await t.admin.get('api/instances/api:alice/health');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body(res), { instance: 'api:alice', health: 'degraded', state: 'running', ok: false, detail: 'GET /health -> 503' });
    assert.equal((await t.admin.get('api/instances/api:zed/health')).statusCode, 404);
  });
});

describe('POST /api/deploy and /api/route', () => {
  it('deploys with defaults and explicit values', async () => {
    const res = await t.admin.post('api/deploy', { json: { process: 'api', version: 'v2', weight: 10, timeout: 5 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual({ ...body(res), port: 0 }, { instance: 'api:v2', weight: 10, status: 'healthy', port: 0, route_changes: 1 });
    const defaults = await t.admin.post('api/deploy', { json: { process: 'api', version: 'v3' } });
    assert.equal(defaults.statusCode, 200);
    assert.deepEqual(t.control.calls, ['deploy api:v2 10 5', 'deploy api:v3 100 30']);
    assert.equal(t.deps.audit.list({ target: 'api:v2' })[0]?.action, 'deploy');
  });

  it('rejects bad deploys before doing anything', async () => {
    t.control.add('api', 'v1');
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ process: 'api' }, 400, /"version"/],
      [{ process: 'api', version: 'v2', weight: 101 }, 422, /between 0 and 100/],
      [{ process: 'api', version: 'v2', timeout: 0 }, 422, /"timeout" must be between 1 and 3600/],
      [{ process: 'api', version: 'v2', timeout: 'soon' }, 400, /"timeout" must be an integer/],
      [{ process: 'api', version: 'v1' }, 409, /already exists/],
      [{ process: 'zzz', version: 'v2' }, 404, /not defined/],
      [{ process: 'api', version: 'V2' }, 400, /lower case/],
    ];
    for (const [json, status, message] of cases) {
      const res = await t.admin.post('api/deploy', { json });
      assert.equal(res.statusCode, status, `${JSON.stringify(json)} -> ${res.body}`);
      assert.match(body(res).error as string, message);
    }
    assert.deepEqual(t.control.calls, []);
  });

  it('maps controller errors: timeout 504, ControlPlaneError kinds, a full port range 503', async () => {
    t.control.behaviour.deployError = new TimeoutError('api:v9 did not become healthy within 5 s');
    const res = await t.admin.post('api/deploy', { json: { process: 'api', version: 'v9', timeout: 5 } });
    assert.equal(res.statusCode, 504);
    assert.match(body(res).error as string, /within 5 s/);
    t.control.behaviour.deployError = new ControlPlaneError('unavailable', 'caddy is not reachable');
    const res2 = await t.admin.post('api/deploy', { json: { process: 'api', version: 'v9' } });
    assert.equal(res2.statusCode, 503);
    t.control.behaviour.spawnError = new PortRangeExhaustedError(30000, 30009);
    const full = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'zed' } });
    assert.equal(full.statusCode, 503);
    assert.match(body(full).error as string, /no free port left in 30000-30009: widen settings\.port_range_start\/port_range_end or stop unused instances/);
    t.control.behaviour.spawnError = new SpawnError('api:zed', 'api:zed failed to start: process exited with code 1 before it became healthy');
    const failed = await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'zed' } });
    assert.equal(failed.statusCode, 503);
    assert.match(body(failed).error as string, /api:zed failed to start/);
  });

  it('route swaps weights; validates from/to', async () => {
    t.control.add('api', 'v1');
    t.control.add('api', 'v2', { weight: 0 });
    const res = await t.admin.post('api/route', { json: { process: 'api', from: 'v1', to: 'v2' } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body(res), { from_instance: 'api:v1', to_instance: 'api:v2', from_weight: 0, to_weight: 100 });
    const same = await t.admin.post('api/route', { json: { process: 'api', from: 'v1', to: 'v1' } });
    assert.equal(same.statusCode, 422);
    const missing = await t.admin.post('api/route', { json: { process: 'api', from: 'v1', to: 'v7' } });
    assert.equal(missing.statusCode, 404);
    assert.match(body(missing).error as string, /api:v7 does not exist/);
    assert.deepEqual(t.control.calls, ['route api v1 v2']);
  });
});

describe('public endpoints and unknown paths', () => {
  it('GET /health: 200 ok/degraded, 503 down; no token needed, only the status without an admin token', async () => {
    for (const [status, code] of [
      ['ok', 200],
      ['degraded', 200],
      ['down', 503],
    ] as const) {
      t.control.behaviour.health = status;
      const res = await t.anon.get('health');
      assert.equal(res.statusCode, code);
      assert.deepEqual(body(res), { status });
      const admin = await t.admin.get('health');
      assert.equal(admin.statusCode, code);
      assert.equal(body(admin).status, status);
      assert.ok(body(admin).parts, 'details for an admin token');
      assert.deepEqual(body(await t.tenant('alice').get('health')), { status }, 'a tenant token sees the status only');
    }
  });

  it('unknown endpoints are JSON 404s', async () => {
    const res = await t.admin.get('api/nothing-here');
    assert.equal(res.statusCode, 404);
    assert.match(body(res).error as string, /no such endpoint: GET \/api\/nothing-here/);
  });
});
