// /api/tokens and /api/audit, plus /metrics over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../src/auth/tokens.js';
import type { AuditJson, CreatedTokenJson, TokenJson } from '../../src/api/contract.js';
import { startTestApi, type TestApi } from './helpers.js';

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
});
const error = (res: { body: string }) => (JSON.parse(res.body) as { error: string }).error;

describe('/api/tokens', () => {
  it('creates a tenant token shown once, lists without secrets, revokes', async () => {
    const created = await t.admin.post('api/tokens', { json: { tenant: 'alice', label: 'alice ci' } });
    assert.equal(created.statusCode, 201, created.body);
    const tok = JSON.parse(created.body) as CreatedTokenJson;
    assert.match(tok.token, /^ten_[A-Za-z0-9_-]{43}$/);
    assert.equal(tok.tenant, 'alice');
    // The new token works, scoped to alice.
    t.control.add('api', 'alice');
    t.control.add('api', 'bob');
    const asAlice = await t.anon.get('api/instances', { headers: { authorization: `Bearer ${tok.token}` } });
    assert.deepEqual(
      (JSON.parse(asAlice.body) as { id: string }[]).map((i) => i.id),
      ['api:alice'],
    );

    const list = JSON.parse((await t.admin.get('api/tokens')).body) as TokenJson[];
    const entry = list.find((x) => x.id === tok.id)!;
    assert.equal(entry.label, 'alice ci');
    assert.equal(JSON.stringify(list).includes(tok.token), false, 'secrets never listed');
    assert.equal(
      list.some((x) => x.tenant === null),
      true,
      'the admin token is listed',
    );

    assert.equal((await t.admin.delete(`api/tokens/${tok.id}`)).statusCode, 204);
    const after = await t.anon.get('api/instances', { headers: { authorization: `Bearer ${tok.token}` } });
    assert.equal(after.statusCode, 401);
    const active = JSON.parse((await t.admin.get('api/tokens?include_revoked=false')).body) as TokenJson[];
    assert.equal(
      active.some((x) => x.id === tok.id),
      false,
    );
    const audit = JSON.parse((await t.admin.get('api/audit?limit=5')).body) as AuditJson[];
    assert.deepEqual(
      audit.slice(0, 2).map((e) => e.action),
      ['token.revoke', 'token.create'],
    );
  });

  it('validates input', async () => {
    const cases: [() => Promise<{ statusCode: number; body: string }>, number, RegExp][] = [
      [() => t.admin.post('api/tokens', { json: {} }), 400, /"tenant"/],
      [() => t.admin.post('api/tokens', { json: { tenant: 'Alice' } }), 400, /lower case/],
      [() => t.admin.post('api/tokens', { json: { tenant: null } }), 400, /must be a string/],
      [() => t.admin.post('api/tokens', { json: { tenant: 'a', admin: true } }), 400, /unknown field "admin"/],
      [() => t.admin.post('api/tokens', { json: { tenant: 'a', label: 'x'.repeat(201) } }), 422, /at most 200/],
      [() => t.admin.delete('api/tokens/tok_ffffffffffff'), 404, /does not exist/],
      [() => t.admin.delete('api/tokens/' + encodeURIComponent('bad id!')), 400, /not a token id/],
      [() => t.admin.get('api/tokens?include_revoked=maybe'), 400, /true or false/],
    ];
    for (const [call, status, message] of cases) {
      const res = await call();
      assert.equal(res.statusCode, status, res.body);
      assert.match(error(res), message);
    }
  });
});

describe('/api/audit', () => {
  it('lists mutations newest first with actor, filterable by target, since and limit', async () => {
    t.control.add('api', 'carol');
    await t.admin.put('api/instances/api:carol/weight', { json: { weight: 10 } });
    await t.admin.post('api/instances/api:carol/restart');
    const entries = JSON.parse((await t.admin.get('api/audit?target=api:carol')).body) as AuditJson[];
    assert.deepEqual(
      entries.map((e) => e.action),
      ['restart', 'weight'],
    );
    const adminId = t.deps.tokens.list({ tenant: null })[0]!.id;
    assert.equal(entries[0]!.actor, adminId);
    assert.match(entries[0]!.at, /^\d{4}-\d\d-\d\dT/);
    assert.equal((JSON.parse((await t.admin.get('api/audit?limit=1')).body) as AuditJson[]).length, 1);
    assert.equal((JSON.parse((await t.admin.get(`api/audit?since=${Date.now() + 60_000}`)).body) as AuditJson[]).length, 0);
    assert.equal((await t.admin.get('api/audit?limit=-3')).statusCode, 400);
  });
});

describe('audit: intent before, outcome after; refused writes (hardening #10)', () => {
  it('records the intent before the operation runs and fills in the outcome', async () => {
    t.control.add('api', 'dora');
    let seenDuring: AuditJson | undefined;
    const restart = t.control.restart.bind(t.control);
    t.control.restart = async (key) => {
      // What a crash at this moment would leave behind.
      seenDuring = (JSON.parse((await t.admin.get('api/audit?target=api:dora')).body) as AuditJson[])[0];
      return restart(key);
    };
    try {
      assert.equal((await t.admin.post('api/instances/api:dora/restart')).statusCode, 200);
    } finally {
      t.control.restart = restart;
    }
    assert.equal(seenDuring?.action, 'restart');
    assert.deepEqual(JSON.parse(seenDuring!.detail!), { ok: null, pending: true }, 'the intent is there while it runs');
    const done = (JSON.parse((await t.admin.get('api/audit?target=api:dora')).body) as AuditJson[])[0]!;
    assert.equal(done.id, seenDuring!.id, 'the same entry');
    assert.deepEqual(JSON.parse(done.detail!), { ok: true });
  });

  it('records failed and refused writes with their reason', async () => {
    t.control.behaviour.spawnError = new Error('port range exhausted');
    await t.admin.post('api/instances/spawn', { json: { process: 'api', id: 'erin' } });
    t.control.behaviour = {};
    const failed = (JSON.parse((await t.admin.get('api/audit?target=api:erin')).body) as AuditJson[])[0]!;
    assert.deepEqual(JSON.parse(failed.detail!), { ok: false, error: 'port range exhausted' });

    const alice = t.tenant('alice');
    assert.equal((await alice.delete('api/instances/api:bob')).statusCode, 403);
    assert.equal((await t.admin.delete('api/instances/api:nobody')).statusCode, 404);
    const refused = JSON.parse((await t.admin.get('api/audit?limit=5')).body) as AuditJson[];
    const byTarget = new Map(refused.filter((e) => e.action === 'refused').map((e) => [e.target, e]));
    const denied = byTarget.get('DELETE /api/instances/api:bob');
    assert.ok(denied, JSON.stringify(refused));
    assert.equal(denied.actor, t.deps.tokens.findByHash(hashToken(t.tokenFor('alice')))!.id);
    assert.equal(JSON.parse(denied.detail!).status, 403);
    assert.match(JSON.parse(denied.detail!).error as string, /tenant "alice"/);
    assert.equal(JSON.parse(byTarget.get('DELETE /api/instances/api:nobody')!.detail!).status, 404);
    // Reads are not audited.
    await alice.get('api/instances/api:bob');
    assert.equal((JSON.parse((await t.admin.get('api/audit?limit=1')).body) as AuditJson[])[0]!.target, 'DELETE /api/instances/api:nobody');
  });
});

describe('GET /metrics', () => {
  it('is public Prometheus text including instance states', async () => {
    t.control.add('notes', 'zed', { observed: 'asleep' });
    const res = await t.anon.get('metrics');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^tenement_instances\{service="notes",state="asleep"\} 1$/m);
    assert.match(res.body, /^tenement_instances_up \d+$/m);
  });
});
