// The in-memory history behind GET /api/history: slots, the window, per-service sums, filters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { History } from '../../src/metrics/history.js';

const alice = { service: 'api', instance: 'alice' };
const bob = { service: 'api', instance: 'bob' };
const carol = { service: 'web', instance: 'carol' };

function clock(start = 1_000_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('History', () => {
  it('adds observations to the slot of their time; the last slot is the current one', () => {
    const c = clock();
    const h = new History({ stepMs: 10_000, windowMs: 60_000, now: c.now });
    h.observeRequest(alice, 200, 10);
    h.observeRequest(alice, 503, 30);
    c.advance(10_000);
    h.observeRequest(alice, 200, 5);
    h.observeRestart(alice);
    h.observeWake(alice);
    const snap = h.snapshot();
    assert.equal(snap.points, 6);
    assert.equal(snap.step_secs, 10);
    assert.equal(snap.window_secs, 60);
    const a = snap.instances[0]!;
    assert.equal(a.instance, 'api:alice');
    assert.deepEqual(a.requests, [0, 0, 0, 0, 2, 1]);
    assert.deepEqual(a.errors, [0, 0, 0, 0, 1, 0]);
    assert.deepEqual(a.latency_avg_ms, [null, null, null, null, 20, 5]);
    assert.deepEqual(a.latency_max_ms, [null, null, null, null, 30, 5]);
    assert.deepEqual(a.restarts, [0, 0, 0, 0, 0, 1]);
    assert.deepEqual(a.wakes, [0, 0, 0, 0, 0, 1]);
    assert.equal(new Date(snap.start).getTime() + 5 * 10_000, Math.floor(c.now() / 10_000) * 10_000);
  });

  it('forgets what falls out of the window, and instances with nothing left in it', () => {
    const c = clock();
    const h = new History({ stepMs: 10_000, windowMs: 30_000, now: c.now });
    h.observeRequest(alice, 200, 1);
    h.observeRequest(bob, 200, 1);
    c.advance(20_000);
    h.observeRequest(alice, 200, 1);
    assert.deepEqual(h.snapshot().instances.find((i) => i.instance === 'api:alice')!.requests, [1, 0, 1]);
    c.advance(10_000);
    const snap = h.snapshot();
    assert.deepEqual(
      snap.instances.map((i) => i.instance),
      ['api:alice'],
    );
    assert.deepEqual(snap.instances[0]!.requests, [0, 1, 0]);
    c.advance(60_000);
    assert.deepEqual(h.snapshot().instances, []);
  });

  it('sums instances per service; a filter by id keeps only that tenant (and its own sums)', () => {
    const h = new History({ now: () => 5_000_000 });
    h.observeRequest(alice, 200, 10);
    h.observeRequest(bob, 200, 30);
    h.observeRequest(bob, 500, 50);
    h.observeRequest(carol, 200, 1);
    const all = h.snapshot();
    assert.equal(all.points, 120, 'one hour of 30 s slots by default');
    const api = all.services.find((s) => s.process === 'api')!;
    assert.equal(api.requests.at(-1), 3);
    assert.equal(api.errors.at(-1), 1);
    assert.equal(api.latency_avg_ms.at(-1), 30);
    assert.equal(api.latency_max_ms.at(-1), 50);
    const onlyBob = h.snapshot({ id: 'bob' });
    assert.deepEqual(
      onlyBob.instances.map((i) => i.instance),
      ['api:bob'],
    );
    assert.deepEqual(
      onlyBob.services.map((s) => [s.process, s.requests.at(-1)]),
      [['api', 2]],
    );
    assert.deepEqual(
      h.snapshot({ service: 'web' }).instances.map((i) => i.instance),
      ['web:carol'],
    );
  });

  it('ignores durations that are not numbers', () => {
    const h = new History({ now: () => 0 });
    h.observeRequest(alice, 200, Number.NaN);
    const a = h.snapshot().instances[0]!;
    assert.equal(a.requests.at(-1), 1);
    assert.equal(a.latency_avg_ms.at(-1), null);
  });
});
