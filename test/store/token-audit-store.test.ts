import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AuditStore } from '../../src/store/audit-store.js';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { DuplicateTokenError, TokenStore } from '../../src/store/token-store.js';
import type { TokenRecord } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp-dir.js';

let opened: OpenedDatabase;
let cleanup: () => void;
beforeEach(() => {
  const t = tempDir('tenement-store-tok-');
  cleanup = t.cleanup;
  opened = openDatabase(t.dir);
});
afterEach(() => {
  opened.db.close();
  cleanup();
});

function token(id: string, tenant: string | null, createdAt: number): TokenRecord {
  return { id, tenant, hash: `hash-${id}`, label: null, createdAt, lastUsedAt: null, revokedAt: null };
}

describe('TokenStore', () => {
  it('inserts, finds by hash, lists by tenant, revokes and touches', () => {
    const tokens = new TokenStore(opened.db);
    tokens.insert(token('admin1', null, 1));
    tokens.insert({ ...token('t-alice', 'alice', 2), label: 'ci' });
    tokens.insert(token('t-bob', 'bob', 3));

    assert.deepEqual(tokens.findByHash('hash-t-alice'), {
      id: 't-alice',
      tenant: 'alice',
      hash: 'hash-t-alice',
      label: 'ci',
      createdAt: 2,
      lastUsedAt: null,
      revokedAt: null,
    });
    assert.equal(tokens.findByHash('nope'), undefined);
    assert.deepEqual(
      tokens.list().map((t) => t.id),
      ['admin1', 't-alice', 't-bob'],
    );
    assert.deepEqual(
      tokens.list({ tenant: null }).map((t) => t.id),
      ['admin1'],
    );
    assert.deepEqual(
      tokens.list({ tenant: 'bob' }).map((t) => t.id),
      ['t-bob'],
    );

    assert.equal(tokens.revoke('t-bob', 100), true);
    assert.equal(tokens.revoke('t-bob', 200), true); // idempotent, keeps the first time
    assert.equal(tokens.get('t-bob')?.revokedAt, 100);
    assert.equal(tokens.findByHash('hash-t-bob')?.revokedAt, 100); // still found: the caller checks
    assert.equal(tokens.revoke('ghost'), false);
    assert.deepEqual(
      tokens.list({ includeRevoked: false }).map((t) => t.id),
      ['admin1', 't-alice'],
    );

    assert.equal(tokens.touch('t-alice', 50), true);
    tokens.touch('t-alice', 40);
    assert.equal(tokens.get('t-alice')?.lastUsedAt, 50);
    assert.equal(tokens.touch('ghost', 1), false);
  });

  it('refuses a duplicate id or hash', () => {
    const tokens = new TokenStore(opened.db);
    tokens.insert(token('a', null, 1));
    assert.throws(
      () => tokens.insert({ ...token('a', 'x', 2), hash: 'other' }),
      (e: unknown) => e instanceof DuplicateTokenError && /id a already exists/.test(e.message),
    );
    assert.throws(
      () => tokens.insert({ ...token('b', 'x', 2), hash: 'hash-a' }),
      (e: unknown) => e instanceof DuplicateTokenError && /same hash/.test(e.message),
    );
  });
});

describe('AuditStore', () => {
  it('records and lists newest first, filtered by time and target, limited', () => {
    const audit = new AuditStore(opened.db);
    const id1 = audit.record({ at: 1_000, actor: 'admin', action: 'spawn', target: 'notes:alice', detail: null });
    audit.record({ at: 2_000, actor: 'token:t-alice', action: 'restart', target: 'notes:alice', detail: '{"reason":"manual"}' });
    audit.record({ at: 3_000, actor: 'admin', action: 'weight', target: 'notes:bob', detail: '{"weight":10}' });
    assert.equal(typeof id1, 'number');
    assert.deepEqual(
      audit.list().map((e) => e.at),
      [3_000, 2_000, 1_000],
    );
    assert.deepEqual(
      audit.list({ target: 'notes:alice' }).map((e) => e.action),
      ['restart', 'spawn'],
    );
    assert.deepEqual(
      audit.list({ since: 2_000 }).map((e) => e.at),
      [3_000, 2_000],
    );
    assert.deepEqual(
      audit.list({ limit: 1 }).map((e) => e.at),
      [3_000],
    );
    assert.deepEqual(audit.list({ target: 'notes:alice', limit: 1 })[0], {
      id: id1 + 1,
      at: 2_000,
      actor: 'token:t-alice',
      action: 'restart',
      target: 'notes:alice',
      detail: '{"reason":"manual"}',
    });
    assert.throws(() => audit.list({ limit: 0 }), /positive integer/);
    assert.equal(audit.prune(2_000), 1);
    assert.equal(audit.list().length, 2);
  });
});
