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
import { issueToken } from '../../src/auth/tokens.js';
import { openDatabase } from '../../src/store/database.js';
import { TokenStore } from '../../src/store/token-store.js';

const config = (dataDir: string, extra = '') => tenantConfig(dataDir, { services: { api: '', docs: '' }, instances: { api: ['alice', 'bob'], docs: ['main'] }, extra });

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

test('a Host in mixed case reaches its instance, awake or asleep (resolved by the controller, since the lookup is exact)', async () => {
  await withStack(
    (d) => config(d),
    async (s) => {
      const answer = async (host: string) => {
        const res = await s.request(host, '/case');
        assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
        return JSON.parse(res.body) as Answer;
      };
      const awake = await answer('Alice.API.localhost');
      assert.deepEqual([awake.service, awake.id, awake.path, awake.host], ['api', 'alice', '/case', 'Alice.API.localhost']);
      await s.controller.supervisor.sleep({ service: 'api', id: 'bob' });
      assert.equal(s.controller.supervisor.get({ service: 'api', id: 'bob' })!.observed, 'asleep');
      assert.equal((await answer('BOB.api.LOCALHOST')).id, 'bob', 'woken');
      assert.equal(s.controller.supervisor.get({ service: 'api', id: 'bob' })!.observed, 'running');
      assert.equal((await answer('API.localhost')).service, 'api', "a service host: Caddy's host matcher ignores case");
      const unknown = await s.request('Zed.api.localhost');
      assert.equal(unknown.statusCode, 404);
      assert.equal(s.controller.supervisor.get({ service: 'api', id: 'zed' }), undefined, 'nothing created');
    },
  );
});

test('a service host costs Caddy one gate file, which holds requests while a member sleeps and across a restart of the controller', async () => {
  await withStack(
    (d) => config(d),
    async (s) => {
      const gates = path.join(s.dataDir, '_run', 'gates');
      const serviceGates = () => fs.readdirSync(gates).filter((n) => n.startsWith('api@'));
      const ids = async (n: number) => {
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) {
          const res = await s.request('api.localhost', '/svc');
          assert.equal(res.statusCode, 200, res.body);
          seen.add((JSON.parse(res.body) as Answer).id);
        }
        return seen;
      };
      // All awake: no service gate file; both members answer.
      await waitFor(async () => (await ids(4)).size === 2, { timeoutMs: 5000, what: 'both members answering on the service host' });
      assert.deepEqual(serviceGates(), []);
      await s.controller.supervisor.sleep({ service: 'api', id: 'bob' });
      const [gate] = serviceGates();
      assert.ok(gate, 'bob asleep closes the service gate');
      const saved = fs.readFileSync(path.join(s.dataDir, '_caddy', 'caddy.json'), 'utf8');
      assert.ok(saved.includes(`"try_files":["/${gate}"]`), 'the service route stats that one file');
      assert.ok(!saved.includes('"/api.bob"'), "and not the members' own gates");
      // Held by the controller, served by the running member, waking nobody.
      assert.deepEqual([...(await ids(4))], ['alice']);
      assert.equal(s.controller.supervisor.get({ service: 'api', id: 'bob' })!.observed, 'asleep');
      // A new controller finds the same gate closed and keeps it so.
      await s.restartController();
      assert.deepEqual(serviceGates(), [gate]);
      assert.deepEqual([...(await ids(2))], ['alice']);
      await s.controller.supervisor.wake({ service: 'api', id: 'bob' });
      await waitFor(() => serviceGates().length === 0, { timeoutMs: 5000, what: 'the service gate opened once bob runs' });
      await waitFor(async () => (await ids(4)).size === 2, { timeoutMs: 5000, what: 'both members answering directly again' });
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

test('hardening #11: public /health is minimal, details need an admin token; /metrics can need a token; /caddy/ask answers only Caddy', async () => {
  const metricsToken = 'scrape-0123456789abcdef';
  await withStack(
    (d) => tenantConfig(d, { services: { api: '' }, instances: { api: ['alice'] }, settings: `metrics_token = "${metricsToken}"` }),
    async (s) => {
      const { db } = openDatabase(s.dataDir);
      const tokens = new TokenStore(db);
      const admin = issueToken(tokens, { tenant: null }).token;
      const alice = issueToken(tokens, { tenant: 'alice' }).token;
      db.close();
      const direct = (p: string, token?: string) =>
        got(`http://127.0.0.1:${s.port}${p}`, { throwHttpErrors: false, retry: { limit: 0 }, headers: token ? { authorization: `Bearer ${token}` } : {} });
      const viaCaddy = (p: string, token?: string) =>
        got(`http://127.0.0.1:${s.httpPort}${p}`, {
          throwHttpErrors: false,
          retry: { limit: 0 },
          headers: { host: 'localhost', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });

      // /health: the status only, for anyone, also through Caddy's root domain.
      for (const res of [await viaCaddy('/health'), await direct('/health'), await direct('/health', alice)]) {
        assert.equal(res.statusCode, 200);
        assert.deepEqual(JSON.parse(res.body), { status: 'ok' }, 'no config path, socket path or versions');
        assert.ok(!res.body.includes(s.dataDir) && !res.body.includes(s.configFile));
      }
      const detailed = JSON.parse((await viaCaddy('/health', admin)).body) as { status: string; parts: Record<string, { ok: boolean; detail?: string }> };
      assert.equal(detailed.parts.config?.detail, s.configFile, 'an admin token sees the details');
      assert.equal((await direct('/health', 'ten_' + 'x'.repeat(43))).statusCode, 401, 'a wrong token is refused, not silently public');

      // /metrics with metrics_token: the tenant ids are not public.
      const anonMetrics = await viaCaddy('/metrics');
      assert.equal(anonMetrics.statusCode, 401);
      assert.ok(!anonMetrics.body.includes('alice'));
      assert.equal((await viaCaddy('/metrics', 'wrong-0123456789abcdef')).statusCode, 401);
      assert.equal((await viaCaddy('/metrics', alice)).statusCode, 403, 'a tenant token is not enough');
      const scraped = await viaCaddy('/metrics', metricsToken);
      assert.equal(scraped.statusCode, 200);
      assert.match(scraped.body, /tenement_instances/);
      assert.equal((await direct('/metrics', admin)).statusCode, 200, 'an admin token works too');

      // /caddy/ask: Caddy's direct GET works; through the public root domain it is refused; the path is exact.
      assert.equal((await direct('/caddy/ask?domain=alice.api.localhost')).statusCode, 200);
      const oracle = await viaCaddy('/caddy/ask?domain=alice.api.localhost');
      assert.equal(oracle.statusCode, 403, oracle.body);
      assert.equal((await viaCaddy('/caddy/ask?domain=zed.api.localhost')).statusCode, 403, 'same answer for a host that does not exist');
      assert.equal((await direct('/caddy/asking?domain=alice.api.localhost')).statusCode, 404, 'exact path, not a prefix');
      assert.equal((await direct('/caddy/ask/x?domain=alice.api.localhost')).statusCode, 404);
    },
  );
});
