import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { readAdminTokenFile, writeAdminTokenFile, adminTokenPath } from '../../src/auth/admin-token-file.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { clientAddress, isLoopback } from '../../src/auth/client-address.js';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { canAccessInstance } from '../../src/auth/principal.js';
import { generateToken, hashToken, issueToken, looksLikeToken } from '../../src/auth/tokens.js';
import { openDatabase } from '../../src/store/database.js';
import { TokenStore } from '../../src/store/token-store.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('tokens', () => {
  it('are ten_ + 32 random bytes base64url, hashed with SHA-256', () => {
    const a = generateToken();
    assert.match(a, /^ten_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a.slice(4), 'base64url').length, 32);
    assert.notEqual(a, generateToken());
    assert.match(hashToken(a), /^[0-9a-f]{64}$/);
    assert.equal(looksLikeToken('ten_short'), false);
  });

  it('are stored only as hashes and verified; revoked ones refused', () => {
    const { dir, cleanup } = tempDir('tenement-auth-');
    const { db } = openDatabase(dir);
    try {
      const store = new TokenStore(db);
      const { token, record } = issueToken(store, { tenant: 'alice', now: 5 });
      assert.equal(store.get(record.id)!.hash, hashToken(token));
      const row = JSON.stringify(db.prepare('SELECT * FROM tokens').all());
      assert.equal(row.includes(token), false, 'the secret is not stored');
      let now = 1000;
      const auth = new Authenticator(store, { now: () => now, touchEveryMs: 100 });
      assert.deepEqual(auth.verify(token), { ok: true, principal: { tokenId: record.id, tenant: 'alice' } });
      assert.equal(store.get(record.id)!.lastUsedAt, 1000);
      now = 1050;
      auth.verify(token);
      assert.equal(store.get(record.id)!.lastUsedAt, 1000, 'touch is throttled');
      assert.deepEqual(auth.verify(generateToken()), { ok: false, reason: 'invalid token' });
      store.revoke(record.id);
      assert.equal(auth.verify(token).ok, false);
    } finally {
      db.close();
      cleanup();
    }
  });

  it('the tenancy rule: a tenant reaches only ids equal to its name', () => {
    assert.equal(canAccessInstance({ tokenId: 't', tenant: 'alice' }, { id: 'alice' }), true);
    assert.equal(canAccessInstance({ tokenId: 't', tenant: 'alice' }, { id: 'alice2' }), false);
    assert.equal(canAccessInstance({ tokenId: 't', tenant: null }, { id: 'x' }), true);
  });
});

describe('FailureLimiter', () => {
  it('blocks an address after N failures within the window, per address, sliding', () => {
    let now = 0;
    const l = new FailureLimiter({ maxFailures: 3, windowMs: 10_000, now: () => now });
    for (const t of [0, 1000, 2000]) {
      now = t;
      assert.equal(l.check('a').blocked, false);
      l.recordFailure('a');
    }
    assert.deepEqual(l.check('a'), { blocked: true, retryAfterSec: 8 });
    assert.equal(l.check('b').blocked, false);
    now = 10_001; // the first failure slid out of the window
    assert.equal(l.check('a').blocked, false);
    l.recordFailure('a');
    assert.equal(l.check('a').blocked, true);
  });

  it('bounds the number of tracked addresses', () => {
    const l = new FailureLimiter({ maxAddresses: 100 });
    for (let i = 0; i < 1000; i++) l.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(l.size, 100);
  });
});

describe('clientAddress', () => {
  it('uses the socket address; X-Forwarded-For only from configured trusted proxies (hardening #2)', () => {
    assert.equal(clientAddress('203.0.113.9', '1.2.3.4'), '203.0.113.9', 'a remote peer cannot choose its bucket');
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7'), '127.0.0.1', 'loopback is not trusted by default: tenants are loopback too');
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7', ['127.0.0.1']), '198.51.100.7');
    assert.equal(clientAddress('::ffff:127.0.0.1', 'spoofed, 198.51.100.7', ['127.0.0.1']), '198.51.100.7', 'the right-most entry is the one the proxy added');
    assert.equal(clientAddress('127.0.0.2', '198.51.100.7', ['127.0.0.1']), '127.0.0.2', 'another loopback address is not the proxy');
    assert.equal(clientAddress('::1', 'not-an-ip', ['::1']), '::1');
    assert.equal(clientAddress('::ffff:10.1.2.3', undefined), '10.1.2.3');
    assert.equal(clientAddress(undefined, undefined), 'unknown');
    assert.equal(isLoopback('127.5.5.5'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
  });
});

describe('admin.token file', () => {
  it('is written with mode 0600 and read back', () => {
    const { dir, cleanup } = tempDir('tenement-tokfile-');
    try {
      assert.equal(readAdminTokenFile(dir), undefined);
      writeAdminTokenFile(dir, 'ten_abc');
      assert.equal(fs.statSync(adminTokenPath(dir)).mode & 0o777, 0o600);
      assert.equal(readAdminTokenFile(dir), 'ten_abc');
    } finally {
      cleanup();
    }
  });
});
