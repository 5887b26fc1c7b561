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

test('with a versioned route, the verify loop reads only the version, and a wrong or missing one is repaired', async () => {
  const inner = fakeTarget();
  let fullReads = 0;
  let versionReads = 0;
  const target = {
    ...inner,
    async read() {
      fullReads++;
      return inner.read();
    },
    async readVersion() {
      versionReads++;
      return (await inner.read())?.handle[0]?.body as string | undefined;
    },
  };
  const applied: CaddyRoute[] = [];
  const sync = new RouteSync({
    target,
    build: () => route(7),
    version: (r) => r.handle[0]?.body as string,
    onApplied: (r) => applied.push(r),
    log: silentLogger,
    verifyMs: 30,
  });
  sync.start();
  await waitFor(() => inner.writes === 1 && versionReads >= 3, { timeoutMs: 3000, what: 'pushed, then checked a few times' });
  assert.equal(fullReads, 1, 'the whole route is read once (adoption at start), never by the checks');
  assert.ok(applied.length >= 1 && applied[0]!.handle[0]!.body === '7', 'onApplied hears what Caddy holds');
  await inner.write(route(8)); // an older copy put back by someone else
  await waitFor(() => inner.writes === 3, { timeoutMs: 2000, what: 'a different version is repaired' });
  inner.wipe();
  await waitFor(() => inner.writes === 4, { timeoutMs: 2000, what: 'a missing route is repaired' });
  assert.equal(sync.stats.repairs, 2);
  sync.stop();
});
