// The CLI habits of tenement 0.2 keep working: global --server/--token/--data-dir before or after
// the command, TENEMENT_DATA_DIR, the token file {data_dir}/api_token, `deploy -w`, `spawn SVC
// --id ID`, `token-gen --description`, `ten caddy`; plus `ten backup` of a live database.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runTen } from '../helpers/controller-process.js';
import { startTestApi, type TestApi } from '../api/helpers.js';
import { tempDir } from '../helpers/temp-dir.js';

let t: TestApi;
const cleanups: Array<() => void> = [];
before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
  cleanups.forEach((c) => c());
});
beforeEach(() => {
  t.control.records.clear();
  t.control.calls.length = 0;
});

// No TENEMENT_SERVER / TENEMENT_TOKEN: everything must come from the flags, files or TENEMENT_DATA_DIR.
const bare = { TENEMENT_SERVER: '', TENEMENT_TOKEN: '', TENEMENT_CONFIG: '', TENEMENT_DATA_DIR: '' };
function ten(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  if (cwd !== undefined) return runTen(args, { env: { ...bare, ...env }, cwd });
  const { dir, cleanup } = tempDir('tenement-cwd-');
  cleanups.push(cleanup);
  return runTen(args, { env: { ...bare, ...env }, cwd: dir });
}

describe('tenement 0.2 CLI habits', () => {
  it('--server and --token work before or after the command', async () => {
    t.control.add('api', 'alice');
    for (const args of [
      ['--server', t.url, '--token', t.adminToken, 'ps', '--json'],
      ['ps', '--json', '--server', t.url, '--token', t.adminToken],
      [`--server=${t.url}`, 'ps', '--json', `--token=${t.adminToken}`],
    ]) {
      const res = await ten(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      assert.deepEqual(
        (JSON.parse(res.stdout) as { id: string }[]).map((i) => i.id),
        ['api:alice'],
        args.join(' '),
      );
    }
  });

  it('the token comes from {data_dir}/api_token, with the data dir from --data-dir (anywhere) or TENEMENT_DATA_DIR', async () => {
    const { dir, cleanup } = tempDir('tenement-orig-dd-');
    cleanups.push(cleanup);
    fs.writeFileSync(path.join(dir, 'api_token'), t.adminToken, { mode: 0o600 }); // as 0.2 wrote it: no newline
    for (const [args, env] of [
      [['--data-dir', dir, 'ps', '--json', '--server', t.url], {}],
      [['ps', '--json', '--data-dir', dir, '--server', t.url], {}],
      [['--server', t.url, 'ps', '--json'], { TENEMENT_DATA_DIR: dir }],
      [['ps', '--json'], { TENEMENT_DATA_DIR: dir, TENEMENT_SERVER: t.url }],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const res = await ten(args, env);
      assert.equal(res.code, 0, `${args.join(' ')} ${JSON.stringify(env)}: ${res.stderr}`);
    }
    const none = await ten(['ps', '--server', t.url], { TENEMENT_DATA_DIR: path.join(dir, 'nope') });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no API token.*admin\.token/s);
  });

  it('deploy -w, spawn SERVICE --id ID, route keep their meaning', async () => {
    const auth = ['--server', t.url, '--token', t.adminToken];
    t.control.add('api', 'v1');
    for (const args of [
      [...auth, 'deploy', 'api:v2', '-w', '10', '--timeout', '20'],
      ['spawn', 'api', '--id', 'carol', ...auth],
      [...auth, 'route', 'api', '--from', 'v1', '--to', 'v2'],
    ]) {
      const res = await ten(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    }
    assert.deepEqual(t.control.calls, ['deploy api:v2 10 20', 'spawn api:carol', 'route api v1 v2']);
    const both = await ten(['spawn', 'api:x', '--id', 'y', ...auth]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /either SERVICE:ID or SERVICE --id ID/);
  });

  it('token-gen --description labels the token; ten backup copies the live database', async () => {
    const { dir, cleanup } = tempDir('tenement-tg-');
    cleanups.push(cleanup);
    const gen = await ten(['--data-dir', dir, 'token-gen', '--tenant', 'alice', '--description', 'CI of alice', '--json']);
    assert.equal(gen.code, 0, gen.stderr);
    const { id } = JSON.parse(gen.stdout) as { id: string };
    // A writer holds the database open (as a running controller does) while the backup runs.
    const live = new Database(path.join(dir, 'tenement.db'));
    live.prepare("INSERT INTO audit (at, actor, action, target) VALUES (1, 'test', 'write', 'during-backup')").run();
    try {
      const out = path.join(dir, 'copy', 'b.db');
      const res = await ten(['backup', '--output', out, '--json'], { TENEMENT_DATA_DIR: dir });
      assert.equal(res.code, 0, res.stderr);
      const copy = new Database(out, { readonly: true });
      assert.equal(copy.prepare('SELECT label FROM tokens WHERE id = ?').pluck().get(id), 'CI of alice');
      assert.equal(copy.prepare("SELECT count(*) FROM audit WHERE target = 'during-backup'").pluck().get(), 1);
      copy.close();
      const again = await ten(['backup', '--output', out], { TENEMENT_DATA_DIR: dir });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /exists; choose another --output/);
    } finally {
      live.close();
    }
  });

  it('ten caddy prints the Caddyfile with the on-demand TLS ask endpoint, or writes it; --install says what to do now', async () => {
    const printed = await ten(['caddy', '--domain', 'example.org', '--port', '9090']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^example\.org, \*\.example\.org, \*\.\*\.example\.org \{$/m);
    assert.match(printed.stdout, /ask http:\/\/127\.0\.0\.1:9090\/caddy\/ask/);
    const { dir, cleanup } = tempDir('tenement-caddyfile-');
    cleanups.push(cleanup);
    const file = path.join(dir, 'Caddyfile');
    assert.equal((await ten(['caddy', '-d', 'example.org', '--output', file])).code, 0);
    assert.match(fs.readFileSync(file, 'utf8'), /ask http:\/\/127\.0\.0\.1:8080\/caddy\/ask/);
    const install = await ten(['caddy', '--domain', 'example.org', '--install']);
    assert.equal(install.code, 1);
    assert.match(install.stderr, /no longer supported: install Caddy with your package manager/);
  });
});
