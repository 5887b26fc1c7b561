// Requests through a real Caddy: direct, service (weighted), [routing] overrides, 404s, TLS ask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import { tenantConfig } from '../helpers/tenant-config.js';
import { withStack } from '../helpers/stack.js';
import { pidsMentioning } from '../helpers/processes.js';
import { waitFor } from '../../src/util/wait.js';

const config = (dataDir: string, extra = '') =>
  tenantConfig(dataDir, { services: { api: '', docs: '' }, instances: { api: ['alice', 'bob'], docs: ['main'] }, extra });

type Answer = { service: string; id: string; pid: number; path: string; host: string };

test('direct, service, subdomain and path routes reach the right instances; the root domain reaches the API', async () => {
  await withStack(
    (d) => config(d, `[routing.subdomain]\nhelp = "docs"\n\n[routing.path]\n"/docs" = "docs"\n`),
    async (s) => {
      const alice = s.controller.supervisor.get({ service: 'api', id: 'alice' })!;
      const direct = await s.request('alice.api.localhost', '/hello');
      assert.equal(direct.statusCode, 200);
      const body = JSON.parse(direct.body) as Answer;
      assert.deepEqual([body.service, body.id, body.pid, body.path], ['api', 'alice', alice.pid, '/hello']);
      assert.equal(body.host, 'alice.api.localhost', 'Host header passes through');

      // Caddy's active health check admits an instance that was not listening yet at the last
      // reload on its next probe (health_check_interval), so keep asking until both have answered.
      const seen = new Set<string>();
      await waitFor(
        async () => {
          seen.add((JSON.parse((await s.request('api.localhost')).body) as Answer).id);
          return seen.size === 2;
        },
        { timeoutMs: 5000, what: 'service route spreading over alice and bob' },
      );
      assert.deepEqual([...seen].sort(), ['alice', 'bob']);

      assert.equal((JSON.parse((await s.request('help.localhost')).body) as Answer).service, 'docs', '[routing.subdomain]');
      const viaPath = JSON.parse((await s.request('localhost', '/docs/intro')).body) as Answer;
      assert.deepEqual([viaPath.service, viaPath.path], ['docs', '/docs/intro'], '[routing.path] keeps the path');

      const health = await s.request('localhost', '/health');
      assert.equal(health.statusCode, 200);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok', 'root domain -> controller API');
    },
  );
});

test('[routing] default serves a service on the root domain', async () => {
  await withStack(
    (d) => config(d, `[routing]\ndefault = "docs"\n`),
    async (s) => {
      const res = await s.request('localhost', '/');
      assert.equal(res.statusCode, 200);
      assert.equal((JSON.parse(res.body) as Answer).service, 'docs');
    },
  );
});

test('unknown hosts get a fast 404; an unknown instance id creates nothing', async () => {
  await withStack(
    (d) => config(d),
    async (s) => {
      const before = s.controller.supervisor.list().length;
      const t0 = Date.now();
      const res = await s.request('zed.api.localhost');
      assert.equal(res.statusCode, 404);
      assert.ok(Date.now() - t0 < 2000, 'answered, not hung');
      assert.equal(s.controller.supervisor.list().length, before, 'no instance created');
      assert.equal(fs.existsSync(path.join(s.dataDir, 'api', 'zed')), false, 'no data dir created');
      assert.deepEqual(pidsMentioning(path.join(s.dataDir, 'api', 'zed')), []);
      assert.equal((await s.request('nosuchservice.localhost')).statusCode, 404);
      assert.equal((await s.request('a.b.c.localhost')).statusCode, 404);
      assert.equal((await s.request('example.org')).statusCode, 404);
    },
  );
});

test('the on-demand TLS ask endpoint approves only hosts tenement serves', async () => {
  await withStack(
    (d) => config(d),
    async (s) => {
      const ask = (domain: string) =>
        got(`http://127.0.0.1:${s.port}/caddy/ask`, { searchParams: { domain }, throwHttpErrors: false, retry: { limit: 0 } }).then((r) => r.statusCode);
      assert.equal(await ask('alice.api.localhost'), 200);
      assert.equal(await ask('api.localhost'), 200);
      assert.equal(await ask('localhost'), 200);
      assert.equal(await ask('zed.api.localhost'), 404);
      assert.equal(await ask('evil.example.com'), 404);
    },
  );
});
