// The `ten` client commands end to end: the built CLI as a real process against a real HTTP
// server running createApi (with an in-memory controller behind it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runTen } from '../helpers/controller-process.js';
import { TEN_BIN } from '../helpers/paths.js';
import { startTestApi, type TestApi } from '../api/helpers.js';
import { waitFor } from '../../src/util/wait.js';

let t: TestApi;
let env: NodeJS.ProcessEnv;
before(async () => {
  t = await startTestApi();
  env = { TENEMENT_SERVER: t.url, TENEMENT_TOKEN: t.adminToken, TENEMENT_CONFIG: '' };
});
after(async () => {
  await t.close();
});
beforeEach(() => {
  t.control.records.clear();
  t.control.calls.length = 0;
  t.control.behaviour = {};
});

const ten = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runTen(args, { env: { ...env, ...extraEnv }, cwd: t.dataDir });

describe('ten client commands', () => {
  it('ps prints the original table; --json the API objects; ls is an alias', async () => {
    t.control.add('api', 'alice', { weight: 40 });
    t.control.add('notes', 'bob', { observed: 'asleep', startedAt: null, lastActivityAt: null, health: 'unknown' });
    const res = await ten(['ps']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^INSTANCE\s+LISTEN\s+UPTIME\s+IDLE\s+HEALTH\s+WEIGHT$/);
    assert.match(lines[1]!, /^api:alice\s+127\.0\.0\.1:\d+\s+1m \d+s\s+\d+s\s+healthy\s+40$/);
    assert.match(lines[2]!, /^notes:bob\s+127\.0\.0\.1:\d+\s+-\s+-\s+unknown\s+100$/);
    const json = await ten(['ls', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { id: string }[]).map((i) => i.id),
      ['api:alice', 'notes:bob'],
    );
    const wide = await ten(['ps', 'api', '--wide']);
    assert.match(wide.stdout, /STATE\s+PID\s+RESTARTS\s+URL\s+STORAGE\s+LAST EXIT/);
    assert.doesNotMatch(wide.stdout, /notes:bob/);
  });

  it('spawn, restart, weight, health, stop', async () => {
    const spawned = await ten(['spawn', 'api:carol']);
    assert.equal(spawned.code, 0, spawned.stderr);
    assert.match(spawned.stderr, /spawning api:carol; waiting for it to become healthy/);
    assert.match(spawned.stderr, /api:carol is running \(healthy\) on port \d+/);
    assert.equal((await ten(['restart', 'api:carol'])).code, 0);
    const w = await ten(['weight', 'api:carol', '30', '--json']);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout), { instance: 'api:carol', weight: 30 });
    const h = await ten(['health', 'api:carol']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /api:carol: healthy .*probe: ok/);
    t.control.behaviour.probe = { ok: false, detail: 'GET /health -> 500' };
    const sick = await ten(['health', 'api:carol']);
    assert.notEqual(sick.code, 0);
    assert.match(sick.stderr, /failed its health probe: GET \/health -> 500/);
    const stop = await ten(['stop', 'api:carol']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(t.control.calls, ['spawn api:carol', 'restart api:carol', 'weight api:carol 30', 'stop api:carol']);
  });

  it('wake starts an asleep instance through the API; a tenant token wakes only its own', async () => {
    t.control.add('api', 'dora', { observed: 'asleep', desired: 'asleep', pid: null, health: 'unknown' });
    const res = await ten(['wake', 'api:dora']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /waking api:dora/);
    assert.match(res.stderr, /api:dora is running \(\w+\) on port \d+/);
    assert.deepEqual(t.control.calls, ['wake api:dora']);
    const json = await ten(['wake', 'api:dora', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { instance: string; state: string }).state, 'running');
    const other = await ten(['wake', 'api:dora'], { TENEMENT_TOKEN: t.tokenFor('eve') });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /tenant "eve"/);
    const missing = await ten(['wake', 'api:ghost']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /instance api:ghost does not exist/);
  });

  it("errors print the server's message and exit non-zero", async () => {
    const missing = await ten(['stop', 'api:ghost']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /instance api:ghost does not exist/);
    t.control.add('api', 'dup');
    const dup = await ten(['spawn', 'api:dup']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const badName = await ten(['spawn', 'api']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /expected service:id/);
    const badWeight = await ten(['weight', 'api:dup', '101']);
    assert.notEqual(badWeight.code, 0);
    assert.match(badWeight.stderr, /not a weight/);
    const denied = await ten(['deploy', 'api:v2'], { TENEMENT_TOKEN: t.tokenFor('alice') });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /deploy requires an admin token/);
    const badToken = await ten(['ps'], { TENEMENT_TOKEN: 'ten_nope' });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /invalid token/);
    const down = await ten(['ps'], { TENEMENT_SERVER: 'http://127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the tenement server at http:\/\/127\.0\.0\.1:1/);
    const noToken = await ten(['ps'], { TENEMENT_TOKEN: '' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /no API token/);
  });

  it('deploy shows progress and route swaps', async () => {
    t.control.add('api', 'v1');
    const d = await ten(['deploy', 'api:v2', '--weight', '10', '--timeout', '5']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /deploying api:v2; waiting up to 5 s for it to become healthy/);
    assert.match(d.stderr, /api:v2 is healthy on port \d+ with weight 10/);
    const r = await ten(['route', 'api', '--from', 'v1', '--to', 'v2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { from_instance: 'api:v1', to_instance: 'api:v2', from_weight: 0, to_weight: 100 });
    assert.deepEqual(t.control.calls, ['deploy api:v2 10 5', 'route api v1 v2']);
  });

  it('logs: search, level, limit, --json', async () => {
    const now = Date.now();
    t.deps.logs.append([
      { service: 'web', instance: 'alice', stream: 'stdout', level: 'info', at: now, text: 'GET /index 200' },
      { service: 'web', instance: 'alice', stream: 'stderr', level: 'error', at: now + 1, text: 'upstream timed out after 30s' },
      { service: 'web', instance: 'bob', stream: 'stdout', level: 'info', at: now + 2, text: 'bob says hello' },
    ]);
    const all = await ten(['logs', 'web']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /web:alice INFO  GET \/index 200\n.*web:alice ERROR upstream timed out after 30s\n.*web:bob INFO  bob says hello\n$/);
    const search = await ten(['logs', 'web:alice', '--search', 'time*']);
    assert.deepEqual(
      search.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+ /, '')),
      ['web:alice ERROR upstream timed out after 30s'],
    );
    const level = await ten(['logs', '--level', 'error', '--json']);
    assert.equal((JSON.parse(level.stdout.trim().split('\n').pop()!) as { message: string }).message, 'upstream timed out after 30s');
    const limit = await ten(['logs', 'web', '--limit', '1']);
    assert.equal(limit.stdout.trim().split('\n').length, 1);
    const bad = await ten(['logs', '--search', '"open']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid log search/);
  });

  it('logs -f prints the newest lines, then follows until interrupted', async () => {
    t.deps.logs.append([{ service: 'tail', instance: 'x', stream: 'stdout', level: 'info', at: Date.now(), text: 'before follow' }]);
    const child = spawn(process.execPath, [TEN_BIN, 'logs', 'tail', '-f'], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('before follow'), { timeoutMs: 10_000, what: `the existing line (stderr: ${err})` });
      await waitFor(() => t.deps.logFeed.subscriberCount > 0, { timeoutMs: 10_000, what: 'the follower to subscribe' });
      const stored = t.deps.logs.append([
        { service: 'tail', instance: 'x', stream: 'stdout', level: 'info', at: Date.now(), text: 'live one' },
        { service: 'other', instance: 'x', stream: 'stdout', level: 'info', at: Date.now(), text: 'not this service' },
      ]);
      t.deps.logFeed.publish(stored);
      await waitFor(() => out.includes('live one'), { timeoutMs: 10_000, what: 'the live line' });
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
      assert.doesNotMatch(out, /not this service/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('token-gen works offline on the data dir; local commands find admin.token; token list/revoke', async () => {
    const gen = await runTen(['token-gen', '--data-dir', t.dataDir, '--label', 'ops'], { env: { TENEMENT_CONFIG: '' } });
    assert.equal(gen.code, 0, gen.stderr);
    const token = gen.stdout.trim();
    assert.match(token, /^ten_[A-Za-z0-9_-]{43}$/);
    const file = path.join(t.dataDir, 'admin.token');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), token);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(gen.stderr, /shown only this once/);

    // No TENEMENT_TOKEN: the token comes from {data_dir}/admin.token.
    const list = await runTen(['token', 'list', '--data-dir', t.dataDir, '--json'], { env: { TENEMENT_SERVER: t.url, TENEMENT_TOKEN: '', TENEMENT_CONFIG: '' } });
    assert.equal(list.code, 0, list.stderr);
    const tokens = JSON.parse(list.stdout) as { id: string; tenant: string | null; label: string | null }[];
    const ops = tokens.find((x) => x.label === 'ops');
    assert.ok(ops && ops.tenant === null);

    const tenant = await runTen(['token-gen', '--data-dir', t.dataDir, '--tenant', 'alice', '--json'], { env: { TENEMENT_CONFIG: '' } });
    assert.equal(tenant.code, 0, tenant.stderr);
    const created = JSON.parse(tenant.stdout) as { id: string; tenant: string; token: string };
    assert.equal(created.tenant, 'alice');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), token, 'a tenant token does not replace admin.token');
    t.control.add('api', 'alice');
    t.control.add('api', 'bob');
    const asAlice = await ten(['ps', '--json'], { TENEMENT_TOKEN: created.token });
    assert.deepEqual(
      (JSON.parse(asAlice.stdout) as { id: string }[]).map((i) => i.id),
      ['api:alice'],
    );

    const revoke = await ten(['token', 'revoke', created.id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const after = await ten(['ps'], { TENEMENT_TOKEN: created.token });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /revoked/);
    const table = await ten(['token', 'list']);
    assert.match(table.stdout, /^ID\s+TENANT\s+LABEL\s+CREATED\s+LAST USED\s+REVOKED$/m);
    assert.match(table.stdout, new RegExp(`^${created.id}\\s+alice\\s+-\\s+\\S+\\s+\\S+\\s+\\d{4}-`, 'm'));

    const badTenant = await runTen(['token-gen', '--data-dir', t.dataDir, '--tenant', 'Bad!'], { env: { TENEMENT_CONFIG: '' } });
    assert.equal(badTenant.code, 1);
    assert.match(badTenant.stderr, /tenant "Bad!"/);
  });
});

describe('terminal escapes from tenants and token labels (hardening #9)', () => {
  it('ten logs and ten token list show control characters escaped', async () => {
    const evil = '\x1b[2J\x1b]0;pwned\x07 cleared';
    const fake = 'harmless\rweb:bob   INFO  fake line from bob';
    t.deps.logs.append([
      { service: 'web', instance: 'eve', stream: 'stdout', level: 'info', at: Date.now(), text: evil },
      { service: 'web', instance: 'eve', stream: 'stdout', level: 'info', at: Date.now(), text: fake },
    ]);
    t.deps.tokens.insert({
      id: 'tok_e5c4pe5e5c4p',
      tenant: 'eve',
      hash: 'h'.repeat(64),
      label: 'ci\x1b[31mRED\u202ecod.exe',
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    });
    for (const res of [await ten(['logs', 'web:eve']), await ten(['logs', 'web:eve'], { FORCE_COLOR: '1' }), await ten(['token', 'list'])]) {
      assert.equal(res.code, 0, res.stderr);
      // eslint-disable-next-line no-control-regex -- looking for them is the point
      assert.doesNotMatch(res.stdout, /[\x00-\x08\x0b-\x1f\x7f\u202e]/, `raw control characters in:\n${JSON.stringify(res.stdout)}`);
    }
    const logs = await ten(['logs', 'web:eve']);
    assert.ok(logs.stdout.includes('\\e[2J\\e]0;pwned\\x07 cleared'), logs.stdout);
    assert.ok(logs.stdout.includes('harmless\\rweb:bob'), "the fake prefix is visibly part of eve's line");
    const tokens = await ten(['token', 'list']);
    assert.ok(tokens.stdout.includes('ci\\e[31mRED\\u202ecod.exe'), tokens.stdout);
    const json = await ten(['logs', 'web:eve', '--json']);
    // eslint-disable-next-line no-control-regex -- looking for them is the point
    assert.doesNotMatch(json.stdout, /\x1b/, 'JSON escapes them too');
  });
});

describe('ten token-gen is audited (hardening #10)', () => {
  it('records token.create with the local user as actor, in the same transaction as the token', async () => {
    const gen = await runTen(['token-gen', '--data-dir', t.dataDir, '--tenant', 'audited', '--label', 'ci', '--json'], { env: { TENEMENT_CONFIG: '' } });
    assert.equal(gen.code, 0, gen.stderr);
    const { id } = JSON.parse(gen.stdout) as { id: string };
    const entry = t.deps.audit.list({ target: 'tenant:audited' })[0];
    assert.ok(entry, 'audited');
    assert.equal(entry.action, 'token.create');
    assert.match(entry.actor, /^local:/);
    assert.deepEqual(JSON.parse(entry.detail!), { id, via: 'ten token-gen', label: 'ci', ok: true });
  });
});
