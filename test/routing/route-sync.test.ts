import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteSync } from '../../src/routing/route-sync.js';
import type { CaddyTarget } from '../../src/routing/caddy-target.js';
import type { CaddyRoute } from '../../caddy/routes.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';

function fakeTarget(opts: { failFirst?: number } = {}) {
  let stored: CaddyRoute | undefined;
  let fails = opts.failFirst ?? 0;
  const t = {
    writes: 0,
    attempts: 0,
    admin: undefined as never,
    describe: 'fake',
    async read() {
      if (fails > 0) throw new Error('unreachable');
      return stored;
    },
    async write(route: CaddyRoute) {
      t.attempts++;
      if (fails > 0) {
        fails--;
        throw new Error('connect ECONNREFUSED');
      }
      t.writes++;
      stored = structuredClone(route);
    },
    wipe() {
      stored = undefined;
    },
  };
  return t satisfies CaddyTarget & Record<string, unknown>;
}

const route = (n: number): CaddyRoute => ({ '@id': 'tenement', handle: [{ handler: 'static_response', body: String(n) }] });

test('a burst of changes is coalesced into one push; unchanged state pushes nothing', async () => {
  const target = fakeTarget();
  let n = 0;
  const sync = new RouteSync({ target, build: () => route(n), log: silentLogger, verifyMs: 60_000 });
  await sync.flush();
  assert.equal(target.writes, 1);
  for (let i = 0; i < 100; i++) {
    n = i;
    sync.request();
  }
  await waitFor(() => target.writes === 2 && sync.stats.inSync, { timeoutMs: 2000 });
  await sync.flush();
  assert.equal(target.writes, 2, 'nothing new to push');
  sync.stop();
});

test('an unreachable Caddy is retried with backoff (no busy loop) and pushed to once it answers', async () => {
  const target = fakeTarget({ failFirst: 3 });
  const sync = new RouteSync({ target, build: () => route(1), log: silentLogger, verifyMs: 60_000 });
  await sync.flush();
  assert.equal(target.attempts, 1, 'flush returns after one failed attempt');
  assert.equal(sync.stats.inSync, false);
  await waitFor(() => sync.stats.inSync, { timeoutMs: 5000, what: 'pushed after Caddy came back' });
  assert.equal(target.attempts, 4, '3 failures (100, 200, 400 ms apart), then success');
  sync.stop();
});

test('routes wiped from Caddy (restart, reload from a Caddyfile) are restored by the verify loop', async () => {
  const target = fakeTarget();
  const sync = new RouteSync({ target, build: () => route(1), log: silentLogger, verifyMs: 50 });
  sync.start();
  await waitFor(() => target.writes === 1, { timeoutMs: 2000 });
  target.wipe();
  await waitFor(() => target.writes === 2, { timeoutMs: 2000, what: 'route restored' });
  assert.equal(sync.stats.repairs, 1);
  sync.stop();
});
