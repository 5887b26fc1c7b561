// Wake on request through Caddy: bodies survive, concurrent wakes share one start, and sleeping /
// waking changes Caddy's config not at all (so other tenants' traffic is untouched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { tenantConfig } from '../helpers/tenant-config.js';
import { withStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../../src/util/wait.js';

const config = (dataDir: string, ids: string[]) => tenantConfig(dataDir, { instances: { api: ids } });

type Answer = { id: string; pid: number; length: number; sha256: string };

async function sleepInstance(s: Stack, id: string): Promise<void> {
  await s.controller.supervisor.sleep({ service: 'api', id });
  assert.equal(s.controller.supervisor.get({ service: 'api', id })!.observed, 'asleep');
}

test('POST bodies up to 5 MB arrive intact at awake and at sleeping instances', async () => {
  await withStack(
    (d) => config(d, ['awake', 'sleepy']),
    async (s) => {
      const body = crypto.randomBytes(5 * 1024 * 1024);
      const sha = crypto.createHash('sha256').update(body).digest('hex');
      const small = Buffer.from('{"hello":"world"}');
      const smallSha = crypto.createHash('sha256').update(small).digest('hex');
      for (const [payload, digest] of [
        [body, sha],
        [small, smallSha],
      ] as const) {
        const awake = JSON.parse((await s.request('awake.api.localhost', '/upload', { method: 'POST', body: payload })).body) as Answer;
        assert.deepEqual([awake.length, awake.sha256], [payload.length, digest]);
        await sleepInstance(s, 'sleepy');
        const res = await s.request('sleepy.api.localhost', '/upload', { method: 'POST', body: payload });
        assert.equal(res.statusCode, 200, res.body);
        const woken = JSON.parse(res.body) as Answer;
        assert.deepEqual([woken.id, woken.length, woken.sha256], ['sleepy', payload.length, digest]);
        assert.equal(s.controller.supervisor.get({ service: 'api', id: 'sleepy' })!.observed, 'running');
      }
    },
  );
});

test('20 sleeping instances woken at once all answer 200; concurrent requests for one share one start', async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `t${i}`);
  await withStack(
    (d) => config(d, ids),
    async (s) => {
      await Promise.all(ids.map((id) => sleepInstance(s, id)));
      const changes = s.caddyChanges();
      const results = await Promise.all(ids.map((id) => s.request(`${id}.api.localhost`, '/')));
      assert.deepEqual(
        results.map((r) => r.statusCode),
        ids.map(() => 200),
      );
      assert.deepEqual(
        results.map((r) => (JSON.parse(r.body) as Answer).id),
        ids,
      );

      await sleepInstance(s, 't0');
      const burst = await Promise.all(Array.from({ length: 10 }, () => s.request('t0.api.localhost', '/', { method: 'POST', body: 'x' })));
      assert.deepEqual(
        burst.map((r) => r.statusCode),
        burst.map(() => 200),
      );
      const pids = new Set(burst.map((r) => (JSON.parse(r.body) as Answer).pid));
      assert.equal(pids.size, 1, 'one process served all concurrent requests: one start');
      assert.equal(s.caddyChanges(), changes, 'waking changed nothing in Caddy');
    },
  );
});

test('20 sleep/wake cycles of one tenant: zero config changes and zero failed requests for two others under load', async () => {
  await withStack(
    (d) => config(d, ['cycler', 'busy1', 'busy2']),
    async (s) => {
      const changesBefore = s.caddyChanges();
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const load = async (id: string, method: 'GET' | 'POST') => {
        while (!stop) {
          try {
            const r = await s.request(`${id}.api.localhost`, '/load', { method, ...(method === 'POST' ? { body: 'payload' } : {}), timeoutMs: 10_000 });
            if (r.statusCode === 200) ok++;
            else failures.push(`${id} ${method}: HTTP ${r.statusCode} ${r.body.slice(0, 80)}`);
          } catch (err) {
            failures.push(`${id} ${method}: ${(err as Error).message}`);
          }
        }
      };
      const loops = [load('busy1', 'GET'), load('busy1', 'POST'), load('busy2', 'GET'), load('busy2', 'POST')];
      try {
        for (let i = 0; i < 20; i++) {
          await sleepInstance(s, 'cycler');
          const r = await s.request('cycler.api.localhost', '/', { method: 'POST', body: `cycle ${i}` });
          assert.equal(r.statusCode, 200, `cycle ${i}: ${r.body}`);
        }
      } finally {
        stop = true;
        await Promise.all(loops);
      }
      assert.deepEqual(failures, [], `failed background requests during 20 sleep/wake cycles (${ok} succeeded)`);
      assert.ok(ok > 50, `background load ran (${ok} requests)`);
      assert.equal(s.caddyChanges() - changesBefore, 0, 'sleep/wake cycles changed Caddy config');
    },
  );
});

test('an idle instance sleeps by itself (activity from its connections, no access log) and wakes on the next request', async () => {
  await withStack(
    (d) => config(d, ['idler']).replace('health = "/health"', 'health = "/health"\nidle_timeout = 1'),
    async (s) => {
      await waitFor(() => s.controller.supervisor.get({ service: 'api', id: 'idler' })?.observed === 'asleep', { timeoutMs: 8000, what: 'asleep' });
      const res = await s.request('idler.api.localhost');
      assert.equal(res.statusCode, 200);
      // Requests keep it awake: their connections are activity.
      for (let i = 0; i < 6; i++) {
        assert.equal((await s.request('idler.api.localhost')).statusCode, 200);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(s.controller.supervisor.get({ service: 'api', id: 'idler' })!.observed, 'running', `still awake after ${i + 1} requests`);
      }
      assert.equal(fs.existsSync(path.join(s.dataDir, '_caddy', 'access.log')), false, 'no access log unless request_metrics is on');
    },
  );
});

test('a WebSocket to a sleeping instance wakes it, and an open stream keeps it from going idle', async () => {
  await withStack(
    (d) => config(d, ['ws']).replace('health = "/health"', 'health = "/health"\nidle_timeout = 1'),
    async (s) => {
      await sleepInstance(s, 'ws');
      const sock = net.connect(s.httpPort, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.write(
        'GET /chat HTTP/1.1\r\nHost: ws.api.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      try {
        await waitFor(() => /101 Switching Protocols[\s\S]*hello from ws pid \d+/.test(got), { timeoutMs: 10_000, what: 'upgrade answered by the woken instance' });
        sock.write('ping-1\n');
        await waitFor(() => got.includes('ping-1'), { timeoutMs: 5000, what: 'echo through the woken stream' });
        // Longer than idle_timeout with the stream open: Caddy counts it in flight, so no sleep.
        const until = Date.now() + 2500;
        await waitFor(() => Date.now() > until, { timeoutMs: 4000, intervalMs: 100, maxIntervalMs: 100 });
        assert.equal(s.controller.supervisor.get({ service: 'api', id: 'ws' })!.observed, 'running', 'an open stream is not idle');
        sock.write('ping-2\n');
        await waitFor(() => got.includes('ping-2'), { timeoutMs: 5000, what: 'stream still alive' });
      } finally {
        sock.destroy();
      }
    },
  );
});
