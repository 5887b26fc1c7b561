import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { DuplicateInstanceError, InstanceStore, PortInUseError } from '../../src/store/instance-store.js';
import type { InstanceRecord } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp-dir.js';

function record(service: string, id: string, port: number, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    service,
    id,
    port,
    pid: null,
    pidStartTime: null,
    desired: 'running',
    observed: 'stopped',
    health: 'unknown',
    weight: 100,
    healthFailures: 0,
    restartCount: 0,
    createdAt: 1_000,
    startedAt: null,
    lastActivityAt: null,
    lastError: null,
    lastExit: null,
    ...extra,
  };
}

describe('InstanceStore', () => {
  let opened: OpenedDatabase;
  let cleanup: () => void;
  let store: InstanceStore;

  beforeEach(() => {
    const t = tempDir('tenement-store-inst-');
    cleanup = t.cleanup;
    opened = openDatabase(t.dir);
    store = new InstanceStore(opened.db);
  });
  afterEach(() => {
    opened.db.close();
    cleanup();
  });

  it('round-trips every field, mapping columns to camelCase', () => {
    const full = record('notes', 'alice', 30001, {
      pid: 1234,
      pidStartTime: '98765',
      observed: 'running',
      health: 'degraded',
      weight: 0,
      healthFailures: 2,
      restartCount: 3,
      startedAt: 2_000,
      lastActivityAt: 3_000,
      lastError: 'health check failed: 503',
      lastExit: 'signal SIGKILL',
      configHash: 'sha256:abc',
    });
    store.insert(full);
    assert.deepEqual(store.get('notes', 'alice'), full);
    // A record without configHash reads back with null.
    store.insert(record('notes', 'bob', 30002));
    assert.equal(store.get('notes', 'bob')?.configHash, null);
    assert.equal(store.get('notes', 'nobody'), undefined);
  });

  it('lists sorted by service and id, filtered by service and id', () => {
    store.insert(record('web', 'b', 30003));
    store.insert(record('notes', 'z', 30001));
    store.insert(record('notes', 'a', 30002));
    store.insert(record('web', 'a', 30004));
    const names = (filter?: { service?: string; id?: string }) => store.list(filter).map((r) => `${r.service}:${r.id}`);
    assert.deepEqual(names(), ['notes:a', 'notes:z', 'web:a', 'web:b']);
    assert.deepEqual(names({ service: 'web' }), ['web:a', 'web:b']);
    assert.deepEqual(names({ id: 'a' }), ['notes:a', 'web:a']);
    assert.deepEqual(names({ service: 'notes', id: 'z' }), ['notes:z']);
    assert.deepEqual(names({ service: 'nope' }), []);
    assert.deepEqual(
      store.routeInputs(),
      store.list().map((r) => ({ service: r.service, id: r.id, port: r.port, weight: r.weight })),
      'route inputs: the same instances in the same order, with only what routes need',
    );
  });

  it('refuses a duplicate instance and a port that is taken, saying which', () => {
    store.insert(record('notes', 'alice', 30001));
    assert.throws(
      () => store.insert(record('notes', 'alice', 30009)),
      (err: unknown) => {
        assert.ok(err instanceof DuplicateInstanceError);
        assert.equal(err.message, 'instance notes:alice already exists');
        return true;
      },
    );
    assert.throws(
      () => store.insert(record('notes', 'bob', 30001)),
      (err: unknown) => {
        assert.ok(err instanceof PortInUseError);
        assert.match(err.message, /port 30001 .* notes:bob: it is already allocated to notes:alice/);
        return true;
      },
    );
    store.insert(record('notes', 'bob', 30002));
    assert.throws(() => store.update('notes', 'bob', { port: 30001 }), PortInUseError);
    assert.equal(store.list().length, 2);
  });

  it('updates only the given fields, returns the new record, and rejects bad patches', () => {
    store.insert(record('notes', 'alice', 30001, { lastError: 'old' }));
    const updated = store.update('notes', 'alice', { observed: 'running', pid: 42, pidStartTime: '7', lastError: null, weight: undefined });
    assert.equal(updated?.observed, 'running');
    assert.equal(updated?.pid, 42);
    assert.equal(updated?.lastError, null); // null clears
    assert.equal(updated?.weight, 100); // undefined leaves alone
    assert.deepEqual(store.update('notes', 'alice', {}), updated);
    assert.equal(store.update('notes', 'alice', { configHash: 'h2' })?.configHash, 'h2');
    // The key may be repeated (the supervisor passes whole records) but not changed.
    assert.equal(store.update('notes', 'alice', { service: 'notes', id: 'alice', weight: 10 })?.weight, 10);
    assert.throws(() => store.update('notes', 'alice', { id: 'bob' }), /cannot change the id/);
    assert.throws(() => store.update('notes', 'alice', { weight: 101 }), /invalid value for instance notes:alice: CHECK constraint failed/);
    assert.throws(() => store.update('notes', 'alice', { observed: 'sleeping' as InstanceRecord['observed'] }), /CHECK constraint failed/);
    assert.throws(() => store.update('notes', 'alice', { bogus: 1 } as unknown as Partial<InstanceRecord>), /unknown field "bogus"/);
    assert.equal(store.update('notes', 'ghost', { weight: 5 }), undefined);
    assert.equal(store.get('notes', 'alice')?.weight, 10);
  });

  it('reports used ports, including stopped and sleeping instances', () => {
    assert.deepEqual(store.usedPorts(), new Set());
    store.insert(record('notes', 'a', 30001, { desired: 'stopped' }));
    store.insert(record('notes', 'b', 30002, { desired: 'asleep', observed: 'asleep' }));
    store.insert(record('web', 'a', 30003));
    assert.deepEqual(store.usedPorts(), new Set([30001, 30002, 30003]));
    assert.equal(store.delete('notes', 'a'), true);
    assert.equal(store.delete('notes', 'a'), false);
    assert.deepEqual(store.usedPorts(), new Set([30002, 30003]));
  });

  it('counts restarts inside a window and keeps history newest first', () => {
    store.insert(record('notes', 'alice', 30001));
    store.insert(record('notes', 'bob', 30002));
    store.recordRestart('notes', 'alice', 'exit code 1', 1_000);
    store.recordRestart('notes', 'alice', 'health check failed', 2_000);
    store.recordRestart('notes', 'alice', 'exit code 137', 3_000);
    store.recordRestart('notes', 'bob', 'exit code 2', 2_500);
    assert.equal(store.restartsSince('notes', 'alice', 0), 3);
    assert.equal(store.restartsSince('notes', 'alice', 2_000), 2); // inclusive
    assert.equal(store.restartsSince('notes', 'alice', 2_001), 1);
    assert.equal(store.restartsSince('notes', 'alice', 3_001), 0);
    assert.equal(store.restartsSince('notes', 'bob', 0), 1);
    assert.deepEqual(store.restartHistory('notes', 'alice', 2), [
      { service: 'notes', id: 'alice', at: 3_000, reason: 'exit code 137' },
      { service: 'notes', id: 'alice', at: 2_000, reason: 'health check failed' },
    ]);
    // recordRestart leaves restartCount to the supervisor.
    assert.equal(store.get('notes', 'alice')?.restartCount, 0);
    assert.equal(store.pruneRestarts(2_000), 1);
    assert.equal(store.restartsSince('notes', 'alice', 0), 2);
    // History goes with its instance; a re-created instance starts clean.
    store.delete('notes', 'alice');
    store.insert(record('notes', 'alice', 30001));
    assert.equal(store.restartsSince('notes', 'alice', 0), 0);
    assert.throws(() => store.recordRestart('notes', 'ghost', 'x', 1), /no such instance/);
  });

  it('touchActivity only moves forward', () => {
    store.insert(record('notes', 'alice', 30001));
    assert.equal(store.touchActivity('notes', 'alice', 5_000), true);
    assert.equal(store.touchActivity('notes', 'alice', 4_000), true);
    assert.equal(store.get('notes', 'alice')?.lastActivityAt, 5_000);
    store.touchActivity('notes', 'alice', 6_000);
    assert.equal(store.get('notes', 'alice')?.lastActivityAt, 6_000);
    assert.equal(store.touchActivity('notes', 'ghost', 1), false);
  });
});
