// Hardening #1: request metrics through a real Caddy. Hosts are chosen by the client; only known
// services and instances may become labels, so random hosts cannot grow /metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import got from 'got';
import { withStack } from '../helpers/stack.js';
import { tenantConfig } from '../helpers/tenant-config.js';
import { waitFor } from '../../src/util/wait.js';
import { parsePrometheusText, type Sample } from '../metrics/prom-text.js';
import { UNKNOWN_SERVICE } from '../../src/metrics/request-labels.js';

const REQUESTS = 3000;

async function scrape(port: number): Promise<{ text: string; samples: Sample[] }> {
  const text = await got(`http://127.0.0.1:${port}/metrics`, { retry: { limit: 0 } }).text();
  return { text, samples: parsePrometheusText(text) };
}

const requestCount = (samples: Sample[], service: string) =>
  samples.filter((s) => s.name === 'tenement_requests_total' && s.labels.service === service).reduce((n, s) => n + s.value, 0);

test('3,000 requests with random hosts leave the metrics series count bounded', async () => {
  await withStack(
    (d) => tenantConfig(d, { services: { api: '' }, instances: { api: ['alice'] }, settings: 'request_metrics = true' }),
    async (s) => {
      // A known instance's request is labelled as before.
      assert.equal((await s.request('alice.api.localhost')).statusCode, 200);
      await waitFor(async () => requestCount((await scrape(s.port)).samples, 'api') >= 1, { timeoutMs: 15_000, what: 'the known request counted' });
      const before = await scrape(s.port);

      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      const hostFor = (i: number) => {
        const r = crypto.randomBytes(6).toString('hex');
        if (i % 3 === 0) return `${r}.api.localhost`; // unknown instance of a known service
        if (i % 3 === 1) return `${r}.${r}x.localhost`; // unknown service and instance
        return `${r}${'a'.repeat(i % 7 === 0 ? 200 : 0)}.localhost`; // unknown service, some long
      };
      const get = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: s.httpPort, path: '/', headers: { host }, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
        });
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < REQUESTS) statuses.push(await get(hostFor(next++)));
        }),
      );
      agent.destroy();
      assert.equal(statuses.length, REQUESTS);
      assert.ok(
        statuses.every((c) => c === 404),
        'unknown hosts are 404s',
      );

      const after = await waitFor(
        async () => {
          const m = await scrape(s.port);
          return requestCount(m.samples, UNKNOWN_SERVICE) >= REQUESTS ? m : undefined;
        },
        { timeoutMs: 60_000, what: `all ${REQUESTS} requests read from the access log` },
      );
      const grown = after.samples.length - before.samples.length;
      // One _unknown request counter per status class plus one duration histogram (buckets + sum + count).
      assert.ok(grown <= 30, `series grew by ${grown} (from ${before.samples.length} to ${after.samples.length})`);
      assert.ok(after.text.length < before.text.length + 8 * 1024, `metrics grew from ${before.text.length} to ${after.text.length} bytes`);
      const services = new Set(after.samples.map((x) => x.labels.service).filter((v) => v !== undefined));
      assert.deepEqual([...services].sort(), ['_unknown', 'api']);
      assert.ok(
        after.samples.every((x) => (x.labels.instance ?? '') === '' || x.labels.instance === 'alice'),
        'no random instance label',
      );
    },
  );
});
