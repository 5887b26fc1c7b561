// tenement adding its routes to a Caddy the user runs: coexistence with the user's sites, and
// recovery when that Caddy is reloaded from its Caddyfile, restarted, or not up yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import { Controller } from '../../src/controller/controller.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers/temp-dir.js';
import { freePort } from '../helpers/controller-process.js';
import { killAllMentioning, pidsMentioning } from '../helpers/processes.js';
import { TENANT_COMMAND } from '../helpers/supervisor-harness.js';
import { portRange } from '../helpers/port-range.js';
import { externalCaddy } from '../helpers/external-caddy.js';

const DOMAIN = 't.localhost';

test('external Caddy: routes coexist with the user site and come back within 2 s after a reload, a restart, or a late start', async () => {
  const { dir, cleanup } = tempDir('tenement-ext-');
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'tenement.toml');
  fs.writeFileSync(
    configFile,
    `[settings]
data_dir = ${JSON.stringify(dataDir)}
${portRange().toml}
request_metrics = true
[service.api]
command = ${JSON.stringify(TENANT_COMMAND)}
health = "/health"
idle_timeout = 600

[instances]
api = ["alice"]
`,
  );
  const [adminPort, httpPort, port] = [await freePort(), await freePort(), await freePort()];
  const caddy = externalCaddy(dir, { adminPort, httpPort, domain: DOMAIN });
  // Browsers send the port in Host on non-default ports; the user's log config is keyed on it.
  const get = (host: string) => got(`http://127.0.0.1:${httpPort}/`, { headers: { host: `${host}:${httpPort}` }, throwHttpErrors: false, retry: { limit: 0 }, agent: {} as never });
  const aliceServed = async () => {
    const r = await get(`alice.api.${DOMAIN}`).catch(() => undefined);
    return r?.statusCode === 200 && (JSON.parse(r.body) as { id: string }).id === 'alice';
  };
  let controller: Controller | undefined;
  try {
    // Caddy is not up yet: the controller starts anyway and pushes once it is.
    controller = await Controller.start({
      configFile,
      host: '127.0.0.1',
      port,
      domain: DOMAIN,
      caddy: { mode: 'external', admin: caddy.adminAddress },
      log: silentLogger,
    });
    assert.equal(controller.control.health().parts.caddy?.ok, false, '/health says Caddy is not reachable');
    await caddy.start();
    await waitFor(aliceServed, { timeoutMs: 5000, what: 'routes pushed once Caddy is up' });
    assert.equal((await get('www.localhost')).body, 'user site', "the user's own site is untouched");

    for (const disrupt of ['reload', 'restart'] as const) {
      if (disrupt === 'reload') await caddy.reload();
      else {
        await caddy.stop();
        await caddy.start();
      }
      const t0 = Date.now();
      const wiped = await get(`alice.api.${DOMAIN}`);
      assert.equal(wiped.statusCode, 503, `${disrupt}: Caddy serves the Caddyfile's config only`);
      await waitFor(aliceServed, { timeoutMs: 2000, intervalMs: 20, what: `routes restored within 2 s after a ${disrupt}` });
      const took = Date.now() - t0;
      assert.ok(took <= 2000, `${disrupt}: restored in ${took} ms`);
      assert.equal((await get('www.localhost')).body, 'user site');
    }
    // With request_metrics on, activity also comes from the access log configured in the user's Caddyfile.
    const before = controller.supervisor.get({ service: 'api', id: 'alice' })!.lastActivityAt ?? 0;
    await get(`alice.api.${DOMAIN}`);
    await waitFor(() => (controller!.supervisor.get({ service: 'api', id: 'alice' })!.lastActivityAt ?? 0) > before, {
      timeoutMs: 5000,
      what: 'activity read from the user access log',
    });
  } finally {
    await controller?.supervisor.stopAll().catch(() => undefined);
    await controller?.close().catch(() => undefined);
    await caddy.stop().catch(() => undefined);
    const leftovers = pidsMentioning(dir);
    killAllMentioning(dir);
    cleanup();
    assert.deepEqual(leftovers, []);
  }
});
