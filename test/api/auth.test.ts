// Every auth rule over HTTP: bearer only, query tokens refused, revoked tokens, failure limit per
// client address, tenant scoping on every endpoint (the log stream included), admin-only endpoints.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import got from 'got';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { issueToken } from '../../src/auth/tokens.js';
import { startTestApi, type TestApi } from './helpers.js';
import { openStream } from './sse-client.js';

let t: TestApi;
let limiter: FailureLimiter;
let trusted: string[] = [];
let selfService: string[] = [];
before(async () => {
  limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000 });
  t = await startTestApi({ limiter, security: () => ({ trustedProxies: trusted, metricsToken: undefined, tenantSpawn: selfService }) });
});
after(async () => {
  await t.close();
});
beforeEach(() => {
  t.control.records.clear();
  t.control.calls.length = 0;
  t.control.add('api', 'alice');
  t.control.add('api', 'bob');
  t.control.add('notes', 'alice');
});

const error = (res: { body: string }) => (JSON.parse(res.body) as { error: string }).error;
const from = (localAddress: string, headers: Record<string, string> = {}) => got.extend({ prefixUrl: t.url, throwHttpErrors: false, retry: { limit: 0 }, localAddress, headers });

describe('authentication', () => {
  it('needs a bearer token on /api/*, not on /health and /metrics', async () => {
    const res = await from('127.0.0.9').get('api/instances');
    assert.equal(res.statusCode, 401);
    assert.match(error(res), /missing "Authorization: Bearer <token>" header/);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="tenement"');
    assert.equal((await t.anon.get('health')).statusCode, 200);
    assert.equal((await t.anon.get('metrics')).statusCode, 200);
  });

  it('accepts only the Bearer scheme', async () => {
    const res = await from('127.0.0.9', { authorization: `Basic ${Buffer.from(`x:${t.adminToken}`).toString('base64')}` }).get('api/instances');
    assert.equal(res.statusCode, 401);
    assert.match(error(res), /must be "Bearer <token>"/);
    const lower = await from('127.0.0.9', { authorization: `bearer ${t.adminToken}` }).get('api/instances');
    assert.equal(lower.statusCode, 200, 'the scheme is case-insensitive (RFC 7235)');
  });

  it('refuses tokens in the query string with 400, even valid ones', async () => {
    for (const param of ['token', 'access_token']) {
      const res = await t.anon.get(`api/instances?${param}=${t.adminToken}`);
      assert.equal(res.statusCode, 400);
      assert.match(error(res), new RegExp(`not accepted in the query string \\("${param}" parameter\\)`));
    }
    const withHeader = await t.admin.get(`api/instances?token=${t.adminToken}`);
    assert.equal(withHeader.statusCode, 400, 'refused even alongside a valid header');
  });

  it('refuses unknown and revoked tokens', async () => {
    const wrong = await from('127.0.0.8', { authorization: 'Bearer ten_' + 'A'.repeat(43) }).get('api/instances');
    assert.equal(wrong.statusCode, 401);
    assert.equal(error(wrong), 'invalid token');
    const issued = issueToken(t.deps.tokens, { tenant: null });
    const ok = await from('127.0.0.8', { authorization: `Bearer ${issued.token}` }).get('api/instances');
    assert.equal(ok.statusCode, 200);
    t.deps.tokens.revoke(issued.record.id);
    const revoked = await from('127.0.0.8', { authorization: `Bearer ${issued.token}` }).get('api/instances');
    assert.equal(revoked.statusCode, 401);
    assert.match(error(revoked), /has been revoked/);
    assert.ok(t.deps.tokens.get(issued.record.id)!.lastUsedAt !== null, 'use is recorded');
  });

  it('limits failures per client address, but a valid token always works (hardening #2)', async () => {
    const bad = { authorization: 'Bearer ten_wrongwrongwrong' };
    for (let i = 0; i < 3; i++) assert.equal((await from('127.0.0.2', bad).get('api/instances')).statusCode, 401);
    const blocked = await from('127.0.0.2', bad).get('api/instances');
    assert.equal(blocked.statusCode, 429, 'more guesses from the address are refused');
    assert.match(error(blocked), /too many failed authentication attempts from 127\.0\.0\.2/);
    assert.ok(Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 60);
    const valid = await from('127.0.0.2', { authorization: `Bearer ${t.adminToken}` }).get('api/instances');
    assert.equal(valid.statusCode, 200, 'the valid admin token still works from the blocked address');
    // Missing headers are not guesses and do not count.
    for (let i = 0; i < 5; i++) assert.equal((await from('127.0.0.4').get('api/instances')).statusCode, 401);
    assert.equal((await from('127.0.0.4', bad).get('api/instances')).statusCode, 401, 'not blocked by missing headers');
  });

  it('100 failures from the same and from spoofed addresses: the valid token works, spoofing neither blocks nor escapes (hardening #2)', async () => {
    const bad = 'ten_' + 'B'.repeat(43);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const spoof: Record<string, string> = i % 2 === 0 ? {} : { 'x-forwarded-for': `198.51.100.${i}` };
      statuses.push((await from('127.0.0.6', { ...spoof, authorization: `Bearer ${bad}` }).get('api/instances')).statusCode);
    }
    assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
    assert.ok(
      statuses.slice(3).every((s) => s === 429),
      'a spoofed X-Forwarded-For does not escape the limit of the real peer',
    );
    assert.equal((await from('127.0.0.6', { authorization: `Bearer ${t.adminToken}` }).get('api/instances')).statusCode, 200);
    assert.equal((await from('127.0.0.6', { 'x-forwarded-for': '198.51.100.1', authorization: `Bearer ${t.adminToken}` }).get('api/instances')).statusCode, 200);
    // The spoofed addresses were not charged: a guess "from" them through another peer is a plain 401.
    assert.equal((await from('127.0.0.7', { 'x-forwarded-for': '198.51.100.1', authorization: `Bearer ${bad}` }).get('api/instances')).statusCode, 401);
  });

  it('behind a configured trusted proxy the X-Forwarded-For client is the one limited', async () => {
    trusted = ['127.0.0.5'];
    try {
      const viaProxy = (client: string, token: string) => from('127.0.0.5', { 'x-forwarded-for': client, authorization: `Bearer ${token}` });
      for (let i = 0; i < 3; i++) assert.equal((await viaProxy('203.0.113.7', 'ten_bad').get('api/instances')).statusCode, 401);
      assert.equal((await viaProxy('203.0.113.7', 'ten_bad').get('api/instances')).statusCode, 429);
      assert.equal((await viaProxy('203.0.113.7', t.adminToken).get('api/instances')).statusCode, 200, 'valid token works');
      assert.equal((await viaProxy('198.51.100.1', 'ten_bad').get('api/instances')).statusCode, 401, 'other clients behind the same proxy are unaffected');
    } finally {
      trusted = [];
    }
  });
});

describe('tenant scoping', () => {
  it("lists only the tenant's instances", async () => {
    const res = await t.tenant('alice').get('api/instances');
    assert.deepEqual(
      (JSON.parse(res.body) as { id: string }[]).map((i) => i.id),
      ['api:alice', 'notes:alice'],
    );
  });

  it('reaches its own instances and gets 403 for others on every instance endpoint', async () => {
    const alice = t.tenant('alice');
    assert.equal((await alice.get('api/instances/api:alice')).statusCode, 200);
    assert.equal((await alice.get('api/instances/api:alice/health')).statusCode, 200);
    assert.equal((await alice.post('api/instances/api:alice/restart')).statusCode, 200);
    const denied = [
      await alice.get('api/instances/api:bob'),
      await alice.get('api/instances/api:bob/health'),
      await alice.put('api/instances/api:bob/weight', { json: { weight: 0 } }),
      await alice.post('api/instances/api:bob/restart'),
      await alice.delete('api/instances/api:bob'),
      await alice.post('api/instances/spawn', { json: { process: 'api', id: 'mallory' } }),
      await alice.get('api/instances/api:nonexistent'),
    ];
    for (const res of denied) {
      assert.equal(res.statusCode, 403, res.body);
      assert.match(error(res), /tenant "alice"/);
    }
    assert.deepEqual(t.control.calls, ['restart api:alice'], 'nothing was done to bob');
  });

  it('hardening #12: spawning and stopping are admin-only unless the service sets tenant_spawn; weights are admin-only', async () => {
    const alice = t.tenant('alice');
    t.control.add('slow', 'alice');
    const refused = [
      await alice.delete('api/instances/slow:alice'),
      await alice.post('api/instances/spawn', { json: { process: 'notes', id: 'alice' } }),
      await alice.post('api/instances/spawn', { json: { process: 'api', id: 'alice' } }),
    ];
    for (const res of refused) {
      assert.equal(res.statusCode, 403, res.body);
      assert.match(error(res), /requires an admin token .*unless the service sets tenant_spawn = true/);
    }
    const weight = await alice.put('api/instances/api:alice/weight', { json: { weight: 50 } });
    assert.equal(weight.statusCode, 403);
    assert.match(error(weight), /setting a weight requires an admin token/);
    assert.deepEqual(t.control.calls, [], 'nothing was done');
    assert.ok(t.control.get({ service: 'slow', id: 'alice' }), 'the admin-made instance is still there');

    selfService = ['notes'];
    try {
      assert.equal((await alice.delete('api/instances/notes:alice')).statusCode, 204, 'self-service: stop its own');
      assert.equal((await alice.post('api/instances/spawn', { json: { process: 'notes', id: 'alice' } })).statusCode, 200, 'self-service: spawn its own');
      assert.equal((await alice.post('api/instances/spawn', { json: { process: 'notes', id: 'bob' } })).statusCode, 403, 'never another id');
      assert.equal((await alice.post('api/instances/spawn', { json: { process: 'api', id: 'alice' } })).statusCode, 403, 'only in opted-in services');
    } finally {
      selfService = [];
    }
    assert.equal((await t.admin.delete('api/instances/slow:alice')).statusCode, 204, 'the admin can');
  });

  it('deploy, route, tokens and audit are admin-only', async () => {
    const alice = t.tenant('alice');
    const res = [
      await alice.post('api/deploy', { json: { process: 'api', version: 'alice' } }),
      await alice.post('api/route', { json: { process: 'api', from: 'alice', to: 'bob' } }),
      await alice.get('api/tokens'),
      await alice.post('api/tokens', { json: { tenant: 'alice' } }),
      await alice.delete('api/tokens/tok_000000000000'),
      await alice.get('api/audit'),
    ];
    for (const r of res) {
      assert.equal(r.statusCode, 403, r.body);
      assert.match(error(r), /requires an admin token/);
    }
    assert.deepEqual(t.control.calls, []);
  });

  it('logs: only its own instances, and asking for another id is 403', async () => {
    t.deps.logs.append([
      { service: 'api', instance: 'alice', stream: 'stdout', level: 'info', at: 1000, text: 'alice secret line' },
      { service: 'api', instance: 'bob', stream: 'stdout', level: 'info', at: 1001, text: 'bob secret line' },
    ]);
    const alice = t.tenant('alice');
    const mine = JSON.parse((await alice.get('api/logs?search=secret')).body) as { instance_id: string }[];
    assert.deepEqual(
      mine.map((l) => l.instance_id),
      ['alice'],
    );
    const other = await alice.get('api/logs?id=bob');
    assert.equal(other.statusCode, 403);
    const stream = await openStream(t.url, 'api/logs/stream?id=bob', { authorization: `Bearer ${t.tokenFor('alice')}` });
    assert.equal(stream.status, 403);
    stream.close();
  });

  it('the live log stream of a tenant carries only its instances', async () => {
    const aliceStream = await openStream(t.url, 'api/logs/stream', { authorization: `Bearer ${t.tokenFor('alice')}` });
    const adminStream = await openStream(t.url, 'api/logs/stream', { authorization: `Bearer ${t.adminToken}` });
    try {
      const lines = t.deps.logs.append([
        { service: 'api', instance: 'bob', stream: 'stdout', level: 'info', at: Date.now(), text: 'for bob only' },
        { service: 'api', instance: 'alice', stream: 'stdout', level: 'info', at: Date.now(), text: 'for alice' },
        { service: 'notes', instance: 'bob', stream: 'stderr', level: 'error', at: Date.now(), text: 'bob again' },
      ]);
      t.deps.logFeed.publish(lines);
      const adminEvents = await adminStream.waitForEvents(3);
      assert.equal(adminEvents.length, 3);
      const aliceEvents = await aliceStream.waitForEvents(1);
      // The admin stream got all three, so alice's stream had every chance to get bob's lines.
      assert.deepEqual(
        aliceEvents.map((e) => (JSON.parse(e.data) as { message: string }).message),
        ['for alice'],
      );
      assert.equal(aliceEvents[0]!.id, String(lines[1]!.id));
    } finally {
      aliceStream.close();
      adminStream.close();
    }
  });
});
