// The dashboard in a real browser (Debian's Chromium, headless) against a real controller, Caddy and
// tenant processes: sign-in, live instances, wake, weights, logs, tokens, tenant isolation. One
// browser for the whole file; every wait is on a condition with a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import got from 'got';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser, type WatchedPage } from '../helpers/browser.js';
import { runTen } from '../helpers/controller-process.js';
import { withStack, type Stack } from '../helpers/stack.js';
import { tenantConfig } from '../helpers/tenant-config.js';
import fs from 'node:fs';
import { detectHost } from '../../src/isolation/host.js';
import { waitFor } from '../../src/util/wait.js';

const LONG = 30_000;

// Memory and CPU limits need root and cgroups; where they cannot be given, the service asks for none
// (a spawn with limits that cannot be applied fails) and only storage is checked.
const host = detectHost();
const CGROUPS = host.root && !!host.cgroup;
const LIMITS = `storage_quota_mb = 50${CGROUPS ? '\nmemory_limit_mb = 256\ncpu_shares = 50' : ''}`;

function row(page: Page, instance: string) {
  return page.locator(`#instances tr[data-instance="${instance}"]`);
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.locator('#token').fill(token);
  await page.locator('#token').press('Enter');
  await page.locator('#who').waitFor({ timeout: LONG });
}

async function tenantLog(s: Stack, id: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  const res = await s.request(`${id}.api.localhost`, `/__control/log?stream=${stream}&text=${encodeURIComponent(text)}`);
  assert.equal(res.statusCode, 200, res.body);
}

test('the dashboard, in Chromium, through Caddy and on the controller port', async (t) => {
  await withStack(
    (d) => tenantConfig(d, { services: { api: LIMITS }, instances: { api: ['alice'] }, settings: 'request_metrics = true' }),
    async (s) => {
      const gen = await runTen(['token-gen', '--data-dir', s.dataDir, '--json', '--label', 'dashboard-test'], { env: { TENEMENT_CONFIG: '' } });
      assert.equal(gen.code, 0, gen.stderr);
      const admin = (JSON.parse(gen.stdout) as { token: string }).token;
      const api = got.extend({ prefixUrl: `http://127.0.0.1:${s.port}/api`, headers: { authorization: `Bearer ${admin}` }, retry: { limit: 0 }, timeout: { request: LONG } });
      const viaCaddy = `http://localhost:${s.httpPort}/`;
      const direct = `http://127.0.0.1:${s.port}/`;

      let browser: TestBrowser | undefined;
      try {
        browser = await launchBrowser();
        const b = browser;
        const admin1: WatchedPage = await b.newPage();
        const page = admin1.page;
        let tenantToken = '';
        let tenant: WatchedPage | undefined;

        await t.test('the page and its assets carry CSP and caching headers, directly and through Caddy', async () => {
          for (const [where, url, host] of [
            ['direct', direct, undefined],
            ['through Caddy', `http://127.0.0.1:${s.httpPort}/`, 'localhost'],
          ] as const) {
            const res = await got(url, { headers: host ? { host } : {}, retry: { limit: 0 } });
            assert.equal(res.statusCode, 200, where);
            const csp = String(res.headers['content-security-policy']);
            assert.match(csp, /default-src 'none'/, where);
            assert.match(csp, /script-src 'self'(;|$)/, where);
            assert.match(csp, /style-src 'self'(;|$)/, where);
            assert.equal(res.headers['cache-control'], 'no-cache', where);
            const assets = [...res.body.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
            assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `index names its script and stylesheet: ${res.body}`);
            assert.doesNotMatch(res.body, /<script>|<style|style=/, 'no inline script or style in the page');
            for (const a of assets) {
              const asset = await got(new URL(a, url), { headers: host ? { host } : {}, retry: { limit: 0 } });
              assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable', a);
            }
          }
        });

        await t.test('sign in through Caddy: nothing is asked of the API before the token is given', async () => {
          const apiCalls: string[] = [];
          page.on('request', (r) => {
            const p = new URL(r.url()).pathname;
            if (p.startsWith('/api') || p === '/health') apiCalls.push(`${r.method()} ${p} ${r.headers()['authorization'] ? 'with token' : 'WITHOUT token'}`);
          });
          await page.goto(viaCaddy);
          await page.locator('#token').waitFor();
          assert.equal(apiCalls.length, 0, `no API call before sign-in: ${apiCalls.join(', ')}`);
          await b.screenshot(page, 'signin');
          await page.locator('#token').fill('ten_not-a-real-token-at-all-xxxxxxxxxxxxxxxxxxxx');
          await page.locator('#token').press('Enter');
          await page.locator('#signin-error', { hasText: 'Not signed in' }).waitFor({ timeout: LONG });
          await page.locator('#token').fill(admin);
          await page.locator('#token').press('Enter');
          await page.locator('#who', { hasText: 'admin' }).waitFor({ timeout: LONG });
          await row(page, 'api:alice').locator('td.col-state', { hasText: 'running' }).waitFor({ timeout: LONG });
          assert.deepEqual(
            apiCalls.filter((c) => c.endsWith('WITHOUT token')),
            [],
            'every API call carries the token',
          );
          // The token lives in this tab's sessionStorage only.
          assert.equal(await page.evaluate('sessionStorage.getItem("tenement.token")'), admin);
          assert.equal(await page.evaluate('localStorage.length'), 0);
          // The invalid token's 401 is the only console error so far; it was asked for.
          admin1.problems.splice(0, admin1.problems.length, ...admin1.problems.filter((p) => !/status of 401/.test(p)));
        });

        await t.test('instances appear as they are spawned through the API', async () => {
          await api.post('instances/spawn', { json: { process: 'api', id: 'bob' } });
          await row(page, 'api:bob').locator('td.col-state', { hasText: 'running' }).waitFor({ timeout: LONG });
          await page.locator('[data-total="instances"] .value', { hasText: '2' }).waitFor({ timeout: LONG });
          await b.screenshot(page, 'overview');
        });

        await t.test('memory, CPU and storage show against their limits', async () => {
          // Storage is measured in the background (at start, then every 30 s): alice was there at start.
          await row(page, 'api:alice')
            .locator('td.col-storage', { hasText: /^\d+(\.\d)?( B| KiB)? \/ 50 MiB$/ })
            .waitFor({ timeout: LONG });
          assert.equal(await page.locator('#instances th.col-storage').textContent(), 'Storage');
          if (!CGROUPS) return;
          // Read from the running instance's cgroup on each poll; the CPU share needs two polls.
          await row(page, 'api:bob')
            .locator('td.col-memory', { hasText: /^\d+(\.\d)?( KiB)? \/ 256 MiB$/ })
            .waitFor({ timeout: LONG });
          await row(page, 'api:bob')
            .locator('td.col-cpu', { hasText: /^\d+(\.\d)?% \(50\)$/ })
            .waitFor({ timeout: LONG });
          const bob = (await api.get('instances/api:bob').json()) as { memory_used_bytes: number; memory_limit_bytes: number; cpu_time_secs: number; cpu_shares: number };
          assert.ok(bob.memory_used_bytes > 0, `memory read from the cgroup: ${bob.memory_used_bytes}`);
          assert.equal(bob.memory_limit_bytes, 256 * 1024 * 1024);
          assert.equal(typeof bob.cpu_time_secs, 'number');
          assert.equal(bob.cpu_shares, 50);
          await b.screenshot(page, 'overview');
        });

        await t.test('with request counts on, the overview shows request totals and no notice', async () => {
          await page.locator('#instances th.col-requests').waitFor({ timeout: LONG });
          assert.equal(await page.locator('#requests-off-overview').isHidden(), true);
          assert.match((await page.locator('[data-total="requests"] .value').textContent()) ?? '', /^\d/);
        });

        await t.test('an asleep instance woken by a request through Caddy changes state on the page', async () => {
          await s.controller.supervisor.sleep({ service: 'api', id: 'alice' });
          await row(page, 'api:alice').locator('td.col-state', { hasText: 'asleep' }).waitFor({ timeout: LONG });
          assert.equal(await row(page, 'api:alice').locator('button[data-action="wake"]').isEnabled(), true, 'wake is offered for an asleep instance');
          // Nothing is read of an asleep instance; its limit still shows.
          if (CGROUPS)
            await row(page, 'api:alice')
              .locator('td.col-memory', { hasText: /^— \/ 256 MiB$/ })
              .waitFor({ timeout: LONG });
          const res = await s.request('alice.api.localhost', '/');
          assert.equal(res.statusCode, 200, res.body);
          await row(page, 'api:alice').locator('td.col-state', { hasText: 'running' }).waitFor({ timeout: LONG });
          assert.equal(await row(page, 'api:alice').locator('button[data-action="wake"]').isDisabled(), true);
        });

        await t.test('the wake button wakes an asleep instance through the API', async () => {
          await s.controller.supervisor.sleep({ service: 'api', id: 'bob' });
          const wake = row(page, 'api:bob').locator('button[data-action="wake"]');
          await row(page, 'api:bob').locator('td.col-state', { hasText: 'asleep' }).waitFor({ timeout: LONG });
          await wake.click();
          await page.locator('dialog button.primary', { hasText: 'Wake' }).click();
          await page.locator('dialog .result .ok', { hasText: 'api:bob: running' }).waitFor({ timeout: LONG });
          await page.keyboard.press('Escape');
          await row(page, 'api:bob').locator('td.col-state', { hasText: 'running' }).waitFor({ timeout: LONG });
        });

        await t.test('keyboard: a row action opens a modal dialog holding the focus; Escape cancels it', async () => {
          await row(page, 'api:alice').locator('button[data-action="restart"]').focus();
          await page.keyboard.press('Enter');
          await page.locator('dialog[open]').waitFor();
          assert.equal(await page.evaluate('!!document.activeElement.closest("dialog")'), true, 'focus is in the dialog');
          await page.keyboard.press('Escape');
          await page.locator('dialog').waitFor({ state: 'detached' });
        });

        await t.test('a weight change shows the resulting split before and after it is applied', async () => {
          await row(page, 'api:alice').locator('button[data-action="weight"]').click();
          const dialog = page.locator('dialog');
          await dialog.locator('#weight-slider').fill('25');
          await dialog.locator('#split li[data-instance="api:alice"]', { hasText: '20%' }).waitFor();
          await dialog.locator('#split li[data-instance="api:bob"]', { hasText: '80%' }).waitFor();
          await b.screenshot(page, 'weight-dialog');
          await dialog.locator('button.primary', { hasText: 'Set weight' }).click();
          await dialog.locator('.result', { hasText: 'api:alice now has weight 25' }).waitFor({ timeout: LONG });
          await dialog.locator('button.primary', { hasText: 'Close' }).click();
          await row(page, 'api:alice').locator('td.col-share', { hasText: '20%' }).waitFor({ timeout: LONG });
          await row(page, 'api:bob').locator('td.col-share', { hasText: '80%' }).waitFor({ timeout: LONG });
          const alice = (await api.get('instances/api:alice').json()) as { weight: number };
          assert.equal(alice.weight, 25);
        });

        await t.test('a line a tenant prints shows in the live tail, control characters made visible; pause holds lines back until resume', async () => {
          await page.goto(`${viaCaddy}#/logs?instance=api:bob`);
          await page.locator('#log-status', { hasText: 'live' }).waitFor({ timeout: LONG });
          await tenantLog(s, 'bob', 'followed-line-one \x1b[31mred\x1b[0m bell\x07 end');
          const line = page.locator('#log-lines li', { hasText: 'followed-line-one' });
          await line.waitFor({ timeout: LONG });
          const text = (await line.locator('.msg').textContent()) ?? '';
          assert.equal(text, 'followed-line-one \\x1b[31mred\\x1b[0m bell\\x07 end');
          // Pause: a line printed meanwhile reaches the store but not the page, until resumed.
          await page.locator('#log-pause').click();
          await page.locator('#log-status', { hasText: 'paused' }).waitFor();
          await tenantLog(s, 'bob', 'while-paused-line');
          await waitFor(async () => ((await api.get('logs', { searchParams: { search: '"while-paused-line"' } }).json()) as unknown[]).length === 1, {
            timeoutMs: LONG,
            what: 'the paused line to be indexed',
          });
          assert.equal(await page.locator('#log-lines li', { hasText: 'while-paused-line' }).count(), 0, 'nothing is added while paused');
          await page.locator('#log-pause').click();
          await page.locator('#log-lines li', { hasText: 'while-paused-line' }).waitFor({ timeout: LONG });
          await b.screenshot(page, 'logs');
        });

        await t.test('log search uses the FTS syntax, with level and stream filters', async () => {
          await tenantLog(s, 'bob', 'zebra crossing');
          await tenantLog(s, 'bob', 'quokka smiling', 'stderr');
          await tenantLog(s, 'alice', 'giraffe tall');
          await waitFor(async () => ((await api.get('logs', { searchParams: { search: 'zebra OR quokka OR giraffe' } }).json()) as unknown[]).length === 3, {
            timeoutMs: LONG,
            what: 'the three lines to be indexed',
          });
          await page.locator('#log-source').selectOption('');
          await page.locator('#log-search').fill('zebra OR quokka');
          await page.locator('#log-search').press('Enter');
          await page.locator('#log-lines li', { hasText: 'quokka smiling' }).waitFor({ timeout: LONG });
          await page.locator('#log-lines li', { hasText: 'zebra crossing' }).waitFor({ timeout: LONG });
          assert.equal(await page.locator('#log-lines li', { hasText: 'giraffe' }).count(), 0);
          await page.locator('#log-stream').selectOption('stderr');
          await page.locator('#log-lines li.stream-stderr', { hasText: 'quokka smiling' }).waitFor({ timeout: LONG });
          assert.equal(await page.locator('#log-lines li', { hasText: 'zebra' }).count(), 0, 'stream filter applied');
          await page.locator('#log-stream').selectOption('');
          await page.locator('#log-search').fill('"unbalanced');
          await page.locator('#log-search').press('Enter');
          await page.locator('#log-status', { hasText: /search|syntax|query/i }).waitFor({ timeout: LONG });
          // That 400 was asked for.
          admin1.problems.splice(0, admin1.problems.length, ...admin1.problems.filter((p) => !/status of 400/.test(p)));
        });

        await t.test('charts show the last hour of requests per service and instance', async () => {
          await page.goto(`${viaCaddy}#/charts`);
          const card = page.locator('section[data-service="api"]');
          await card.waitFor({ timeout: LONG });
          await card.locator('tr[data-instance="api:alice"]').waitFor({ timeout: LONG });
          await card.locator('svg.chart path.line').first().waitFor();
          await card.locator('figcaption', { hasText: 'Requests / min' }).waitFor();
          assert.equal(await page.locator('#requests-off-charts').isHidden(), true, 'no notice while requests are counted');
          await b.screenshot(page, 'charts');
        });

        await t.test('admin: a tenant token is created on the tokens page; the audit log lists the weight change', async () => {
          await page.goto(`${viaCaddy}#/tokens`);
          await page.locator('#tokens tbody tr').first().waitFor({ timeout: LONG });
          await page.locator('#token-create').click();
          await page.locator('#token-tenant').fill('bob');
          await page.locator('#token-label').fill('browser test');
          await page.locator('dialog button.primary', { hasText: 'Create' }).click();
          const secret = page.locator('#new-token');
          await secret.waitFor({ timeout: LONG });
          tenantToken = await secret.inputValue();
          assert.match(tenantToken, /^ten_[A-Za-z0-9_-]{43}$/);
          await page.locator('dialog button.primary', { hasText: 'Close' }).click();
          await page.locator('#tokens tbody tr', { hasText: 'browser test' }).waitFor({ timeout: LONG });
          await b.screenshot(page, 'tokens');
          await page.goto(`${viaCaddy}#/audit`);
          await page.locator('#audit tbody tr', { hasText: 'api:alice' }).filter({ hasText: 'weight' }).waitFor({ timeout: LONG });
          await b.screenshot(page, 'audit');
        });

        await t.test('a tenant token (on the controller port) sees its own instance and nothing of another tenant', async () => {
          tenant = await b.newPage();
          const tp = tenant.page;
          await signIn(tp, direct, tenantToken);
          assert.equal(await tp.locator('#who').textContent(), 'tenant bob');
          await row(tp, 'api:bob').waitFor({ timeout: LONG });
          assert.equal(await tp.locator('#instances tbody tr').count(), 1);
          assert.equal(await tp.locator('nav a', { hasText: /Tokens|Audit/ }).count(), 0, 'no admin pages');
          await b.screenshot(tp, 'tenant-overview');
          const body = async () => (await tp.locator('body').textContent()) ?? '';
          assert.doesNotMatch(await body(), /alice/);
          await tp.goto(`${direct}#/logs`);
          await tp.locator('#log-lines li', { hasText: 'zebra crossing' }).waitFor({ timeout: LONG });
          assert.doesNotMatch(await body(), /alice|giraffe/, 'no line of another tenant');
          await tp.goto(`${direct}#/charts`);
          await tp.locator('section[data-service="api"] tr[data-instance="api:bob"]').waitFor({ timeout: LONG });
          assert.doesNotMatch(await body(), /alice/);
          // The admin pages are not reachable by URL either.
          await tp.goto(`${direct}#/tokens`);
          await tp.locator('h1', { hasText: 'Overview' }).or(tp.locator('#instances')).first().waitFor({ timeout: LONG });
          assert.doesNotMatch(await body(), /browser test|dashboard-test/);
        });

        await t.test('revoking a token on the tokens page ends the session that uses it', async () => {
          assert.ok(tenant);
          await page.goto(`${viaCaddy}#/tokens`);
          const tokenRow = page.locator('#tokens tbody tr', { hasText: 'browser test' });
          await tokenRow.locator('button[data-action="revoke"]').click();
          await page.locator('dialog button.danger', { hasText: 'Revoke' }).click();
          await page.locator('dialog .result', { hasText: 'revoked' }).waitFor({ timeout: LONG });
          await page.keyboard.press('Escape');
          await tenant.page.locator('#signin-error', { hasText: 'session ended' }).waitFor({ timeout: LONG });
          assert.equal(await tenant.page.evaluate('sessionStorage.getItem("tenement.token")'), null);
          // The 401 that ended it is expected; nothing else may have gone wrong.
          assert.deepEqual(
            tenant.problems.filter((p) => !/status of 401/.test(p)),
            [],
          );
        });

        await t.test('with request_metrics off, a notice replaces request totals and charts; restarts and wakes still chart', async () => {
          // request_metrics applies at the controller's start: restart it on the edited config
          // (tenants, Caddy and the signed-in page stay).
          const text = fs.readFileSync(s.configFile, 'utf8');
          fs.writeFileSync(s.configFile, text.replace('request_metrics = true', ''));
          await page.goto(`${viaCaddy}#/overview`);
          await s.restartController();
          // The history is polled every 15 s; a reload (the session survives it) reads it at once.
          await page.reload();
          const tel = (await api.get('telemetry').json()) as { request_metrics: boolean };
          assert.equal(tel.request_metrics, false);
          await page.locator('#requests-off-overview', { hasText: 'request_metrics = true' }).waitFor({ timeout: LONG });
          await page.locator('[data-total="requests"] .value', { hasText: 'off' }).waitFor({ timeout: LONG });
          assert.equal(await page.locator('#instances th.col-requests').count(), 0, 'no column of zeros');
          await b.screenshot(page, 'overview-requests-off');

          await s.controller.supervisor.sleep({ service: 'api', id: 'alice' });
          assert.equal((await s.request('alice.api.localhost', '/')).statusCode, 200);
          await page.goto(`${viaCaddy}#/charts`);
          await page.locator('#requests-off-charts', { hasText: 'about a quarter' }).waitFor({ timeout: LONG });
          const card = page.locator('section[data-service="api"]');
          await card.locator('figcaption', { hasText: 'Restarts and wakes' }).waitFor({ timeout: LONG });
          assert.equal(await card.locator('figcaption', { hasText: /Requests|Latency/ }).count(), 0, 'no flat request or latency chart');
          assert.match((await card.locator('h2').textContent()) ?? '', /1 wakes/);
          assert.doesNotMatch((await card.locator('h2').textContent()) ?? '', /requests/);
          await b.screenshot(page, 'charts-requests-off');
          // While the controller restarted, polls through Caddy failed (502 or refused): expected.
          admin1.problems.splice(0, admin1.problems.length, ...admin1.problems.filter((p) => !/status of 502|ERR_CONNECTION|Failed to fetch/.test(p)));
        });

        await t.test('light and dark: the page follows prefers-color-scheme', async () => {
          await page.goto(`${viaCaddy}#/overview`);
          await row(page, 'api:alice').waitFor({ timeout: LONG });
          const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
          await page.emulateMedia({ colorScheme: 'light' });
          const light = await background();
          await b.screenshot(page, 'overview-light');
          await page.emulateMedia({ colorScheme: 'dark' });
          const dark = await background();
          await b.screenshot(page, 'overview-dark');
          assert.notEqual(light, dark);
          await page.emulateMedia({ colorScheme: 'light' });
        });

        await t.test('no console errors or exceptions in the admin session', () => {
          assert.deepEqual(admin1.problems, []);
        });
      } finally {
        await browser?.close();
      }
    },
  );
});
