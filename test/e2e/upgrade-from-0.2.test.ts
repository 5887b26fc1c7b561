// docs/upgrading.md "Upgrading from tenement 0.2.x", step by step, on a data dir the original left
// (its schema, Argon2 tokens, logs, deploy log, instance state, a tenant process a crashed 0.2
// server left running, the api_token file), behind the front proxy 0.2's `ten caddy` set up
// (a real Caddy: `*.example.com { reverse_proxy <controller port> }`), with a client loop running
// through that proxy the whole time: after the new controller first answers, no request fails.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import got from 'got';
import { freePort, runTen, startController } from '../helpers/controller-process.js';
import { makeOriginalDataDir } from '../helpers/original-data-dir.js';
import { TENANT_APP } from '../helpers/paths.js';
import { portRange } from '../helpers/port-range.js';
import { killAllMentioning, pidRunning } from '../helpers/processes.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../../src/util/wait.js';

/** GET through the front proxy with a Host header; never throws. */
function get(port: number, host: string, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: 'response error' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
}

test('upgrade from tenement 0.2.x: data dir, tokens, CLI habits, leftover process, front proxy, under a client loop', async () => {
  const { dir, cleanup } = tempDir('tenement-from02-');
  const dataDir = path.join(dir, 'data');
  const config = path.join(dir, 'tenement.toml');
  const range = portRange();
  const ctlPort = await freePort();
  const httpPort = await freePort();
  const frontPort = await freePort();
  const leftoverPort = await freePort();
  let stopLoop = false;
  try {
    // ---- what tenement 0.2 left behind --------------------------------------------------------
    // Its config: unchanged by the upgrade (data_dir is given by TENEMENT_DATA_DIR, as 0.2 allowed).
    fs.writeFileSync(
      config,
      `[settings]
data_dir = "./not-this-one"
${range.toml}
[service.notes]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"

[instances]
notes = ["alice"]
`,
    );
    // A tenant process of a 0.2 server that crashed: own process group, PORT in its environment.
    const leftover = spawn(process.execPath, [TENANT_APP], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, PORT: String(leftoverPort), TENEMENT_SERVICE: 'notes', TENEMENT_INSTANCE: 'alice', MARKER: dir },
    });
    leftover.unref();
    await waitFor(async () => (await get(leftoverPort, 'x', '/health')).status === 200, { timeoutMs: 10_000, what: 'the leftover 0.2 tenant' });
    const orig = await makeOriginalDataDir(dataDir, {
      tenants: ['alice', 'bob'],
      instances: [
        { service: 'notes', id: 'alice', pid: leftover.pid!, port: leftoverPort },
        { service: 'notes', id: 'bob', pid: null, port: null, weight: 100 },
      ],
    });
    // The front proxy of a 0.2 deployment (`ten caddy` wrote `domain, *.domain`; instances at
    // {id}.{service}.domain need *.*.domain too): every host to the controller port (HTTP here).
    const frontfile = path.join(dir, 'FrontCaddyfile');
    fs.writeFileSync(
      frontfile,
      `{
	admin off
	auto_https off
}
http://example.com:${frontPort}, http://*.example.com:${frontPort}, http://*.*.example.com:${frontPort} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${ctlPort}
}
`,
    );
    const front = spawn('caddy', ['run', '--config', frontfile, '--adapter', 'caddyfile'], {
      stdio: 'ignore',
      env: { ...process.env, XDG_DATA_HOME: path.join(dir, 'front-xdg'), XDG_CONFIG_HOME: path.join(dir, 'front-xdg') },
    });
    await waitFor(async () => (await get(frontPort, 'example.com', '/health')).status === 502, { timeoutMs: 10_000, what: 'the front proxy (502: nothing behind it yet)' });

    // ---- the client loop: through the front proxy, for the whole upgrade -----------------------
    const results: Array<{ at: number; status: number; body: string }> = [];
    const loop = (async () => {
      while (!stopLoop) {
        const r = await get(frontPort, 'alice.notes.example.com', '/');
        results.push({ at: Date.now(), ...r });
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    // ---- step 1: keep the old binary and data (the guide's backup step) -----------------------
    execFileSync('sh', ['-c', `cp -a ${JSON.stringify(dataDir)} ${JSON.stringify(`${dataDir}.0.2-backup`)}`]);
    assert.ok(fs.existsSync(path.join(`${dataDir}.0.2-backup`, 'tenement.db')));

    // ---- step 2: check the new version accepts the old config ---------------------------------
    assert.equal((await runTen(['config', '--config', config, '--quiet'])).code, 0);

    // ---- step 3: start the new controller on the old data dir ----------------------------------
    const t0 = Date.now();
    const ctl = await startController({
      config,
      port: ctlPort,
      logFile: path.join(dir, 'controller.log'),
      env: { TENEMENT_DATA_DIR: dataDir, MARKER: dir },
      args: ['--domain', 'example.com', '--http-port', String(httpPort)],
      timeoutMs: 60_000,
    });
    try {
      // Migrated after a backup; the leftover was stopped, alice and bob run under the new controller.
      assert.ok(fs.existsSync(path.join(dataDir, 'tenement.db.v0.bak')), 'backup before migrating');
      assert.ok(!fs.existsSync(path.join(dir, 'not-this-one', 'tenement.db')), 'TENEMENT_DATA_DIR wins over settings.data_dir');
      await waitFor(() => !pidRunning(leftover.pid!), { timeoutMs: 20_000, what: 'the leftover 0.2 process to be stopped' });
      const firstOk = await waitFor(() => results.find((r) => r.at >= t0 && r.status === 200 && r.body.length > 0), {
        timeoutMs: 60_000,
        what: `alice through the front proxy (last: ${JSON.stringify(results.slice(-3))})\n${ctl.log().slice(-3000)}`,
      });
      const downtimeMs = firstOk.at - t0;

      // ---- step 4: the CLI as 0.2 users typed it: token from {data_dir}/api_token -------------
      const server = `http://127.0.0.1:${ctlPort}`;
      const ps = await runTen(['--server', server, 'ps', '--json'], { env: { TENEMENT_DATA_DIR: dataDir, TENEMENT_TOKEN: '', TENEMENT_SERVER: '', TENEMENT_CONFIG: '' } });
      assert.equal(ps.code, 0, ps.stderr);
      const listed = JSON.parse(ps.stdout) as Array<{ id: string; socket: string }>;
      await waitFor(
        async () => {
          const r = await got(`${server}/api/instances`, { headers: { authorization: `Bearer ${orig.adminToken}` } }).json<Array<{ id: string; state: string }>>();
          return ['notes:alice', 'notes:bob'].every((id) => r.some((i) => i.id === id && i.state === 'running')) || undefined;
        },
        { timeoutMs: 30_000, what: 'alice and bob running under the new controller' },
      );
      assert.ok(listed.some((i) => i.id === 'notes:alice' && /^127\.0\.0\.1:\d+$/.test(i.socket)));

      // Tenant tokens of 0.2 keep their scope.
      const asAlice = got.extend({ prefixUrl: server, headers: { authorization: `Bearer ${orig.tenantTokens.alice}` }, throwHttpErrors: false, retry: { limit: 0 } });
      const mine = JSON.parse((await asAlice.get('api/instances')).body) as Array<{ id: string }>;
      assert.deepEqual(
        mine.map((i) => i.id),
        ['notes:alice'],
      );
      assert.equal((await asAlice.post('api/instances/notes:bob/restart')).statusCode, 403);
      assert.equal((await asAlice.post('api/deploy', { json: { process: 'notes', version: 'v2' } })).statusCode, 403);

      // Logs of 0.2 are searchable; deploy_log is in the audit log.
      const logs = await runTen(['--server', server, 'logs', 'notes:alice', '--search', 'refused', '--json'], {
        env: { TENEMENT_DATA_DIR: dataDir, TENEMENT_TOKEN: '', TENEMENT_SERVER: '', TENEMENT_CONFIG: '' },
      });
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /database connection refused by upstream/);
      const audit = await got(`${server}/api/audit?limit=200`, { headers: { authorization: `Bearer ${orig.adminToken}` } }).json<Array<{ actor: string; action: string }>>();
      assert.deepEqual(
        audit
          .filter((e) => e.actor === 'tenement-0.2')
          .map((e) => e.action)
          .sort(),
        ['deploy', 'route', 'spawn'],
      );

      // ---- step 5: the front proxy keeps working, with a warning naming the better setup ------
      assert.match(ctl.log(), /requests for tenant hosts reach the controller port.*point the front proxy at Caddy \(127\.0\.0\.1:\d+/);
      assert.match(ctl.log(), /stopped a process left running by tenement 0\.2/);
      // The better setup: Caddy serves alice directly.
      const direct = await get(httpPort, 'alice.notes.example.com', '/');
      assert.equal(direct.status, 200, direct.body);

      // No request failed once the new controller answered the first one.
      stopLoop = true;
      await loop;
      const after = results.filter((r) => r.at > firstOk.at);
      const failed = after.filter((r) => r.status !== 200);
      assert.ok(after.length >= 5, `the loop kept running (${after.length} requests)`);
      assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${after.length} requests failed after the upgrade`);
      process.stdout.write(`# upgrade from 0.2: first request served ${downtimeMs} ms after \`ten serve\` started; ${after.length} requests after that, 0 failed\n`);
    } finally {
      stopLoop = true;
      await loop;
      await ctl.stop('SIGTERM');
      await runTen(['down', '--config', config], { env: { TENEMENT_DATA_DIR: dataDir } });
      front.kill('SIGTERM');
    }
  } finally {
    stopLoop = true;
    killAllMentioning(dir);
    cleanup();
  }
});
