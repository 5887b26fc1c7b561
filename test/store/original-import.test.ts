// A tenement v0.2.x database (its own schema, real Argon2 hashes) is migrated on first open, after
// a backup, with nothing lost: logs searchable, admin and tenant tokens authenticate with their
// scope, deploy_log in the audit log, config keys kept, instance_state kept for the controller.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashToken, issueToken } from '../../src/auth/tokens.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { DB_FILE, openDatabase } from '../../src/store/database.js';
import { LogStore } from '../../src/store/log-store.js';
import { ORIGINAL_ACTOR, originalTimeToMs } from '../../src/store/original-import.js';
import { TokenStore } from '../../src/store/token-store.js';
import { makeOriginalDataDir, originalToken } from '../helpers/original-data-dir.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));
function dataDir(): string {
  const t = tempDir('tenement-orig-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('upgrade from a tenement v0.2.x database', () => {
  it('keeps logs, tokens (Argon2, with scope), deploy log, config keys and instance state', async () => {
    const dir = dataDir();
    const orig = await makeOriginalDataDir(dir, {
      logsAt: Date.UTC(2025, 2, 2, 10, 0, 0, 123),
      tenants: ['alice', 'bob'],
      instances: [
        { service: 'notes', id: 'alice', pid: 999_999_999, port: 30001, weight: 100 },
        { service: 'notes', id: 'canary', pid: null, port: 30002, weight: 0 },
      ],
    });
    const opened = openDatabase(dir, { appVersion: 'test' });
    try {
      assert.equal(opened.migratedFrom, 0);
      assert.equal(opened.backup, path.join(dir, `${DB_FILE}.v0.bak`));
      const backup = new Database(opened.backup!, { readonly: true });
      assert.equal(backup.prepare('SELECT count(*) FROM tenant_tokens').pluck().get(), 2);
      assert.equal(backup.prepare('SELECT count(*) FROM deploy_log').pluck().get(), 3);
      backup.close();

      // Logs: searchable, stream kept.
      const logs = new LogStore(opened.db);
      const [line] = logs.query({ search: 'refused', limit: 10 });
      assert.equal(line?.text, 'database connection refused by upstream');
      assert.equal(line?.stream, 'stderr');
      assert.equal(logs.query({ stream: 'stdout', limit: 1 })[0]?.at, Date.UTC(2025, 2, 2, 10, 0, 0, 123));

      // Tokens: the admin token and each tenant token authenticate, with their scope.
      const tokens = new TokenStore(opened.db);
      const auth = new Authenticator(tokens);
      const admin = await auth.authenticate(orig.adminToken);
      assert.ok(admin.ok, JSON.stringify(admin));
      assert.equal(admin.principal.tenant, null);
      for (const tenant of ['alice', 'bob']) {
        const r = await auth.authenticate(orig.tenantTokens[tenant]!);
        assert.ok(r.ok, `${tenant}: ${JSON.stringify(r)}`);
        assert.equal(r.principal.tenant, tenant);
      }
      // Wrong tokens of the same shape, or with a known prefix, are refused.
      assert.equal((await auth.authenticate(originalToken())).ok, false);
      const alicePrefixForged = orig.tenantTokens.alice!.slice(0, 8) + originalToken().slice(8);
      assert.equal((await auth.authenticate(alicePrefixForged)).ok, false);
      // After the first use a token is found by its SHA-256 (no Argon2 any more) and still works.
      assert.ok(tokens.findByHash(hashToken(orig.tenantTokens.alice!)));
      assert.equal(tokens.legacy.count(), 0);
      assert.ok((await auth.authenticate(orig.tenantTokens.alice!)).ok);
      assert.equal(auth.verify(orig.adminToken).ok, true);
      // Labels kept; new tokens keep the project's format and hashing.
      assert.deepEqual(
        tokens.list({ tenant: 'alice' }).map((t) => t.label),
        ["alice's CI"],
      );
      const fresh = issueToken(tokens, { tenant: 'alice' });
      assert.match(fresh.token, /^ten_/);
      assert.equal(fresh.record.hash, hashToken(fresh.token));

      // deploy_log -> audit.
      const audit = new AuditStore(opened.db).list({ limit: 10 }).filter((e) => e.actor === ORIGINAL_ACTOR);
      assert.deepEqual(audit.map((e) => [e.action, e.target, e.detail, e.at]).reverse(), [
        ['spawn', 'notes:alice', null, Date.UTC(2025, 2, 2, 11, 0)],
        ['deploy', 'notes:v2', 'weight=10', Date.UTC(2025, 2, 2, 11, 5)],
        ['route', 'notes v1 -> v2', 'weight swap: 0/100; failed', Date.UTC(2025, 2, 2, 11, 6)],
      ]);
      // config keys kept.
      assert.deepEqual(opened.db.prepare('SELECT key FROM original_config ORDER BY key').pluck().all(), ['api_token_hash', 'dashboard_theme']);
      // instance_state kept for the controller's next start.
      assert.deepEqual(opened.db.prepare('SELECT service, id, pid, port, weight FROM legacy_instances ORDER BY id').all(), [
        { service: 'notes', id: 'alice', pid: 999_999_999, port: 30001, weight: 100 },
        { service: 'notes', id: 'canary', pid: null, port: 30002, weight: 0 },
      ]);
    } finally {
      opened.db.close();
    }
    // A second open changes nothing more.
    const again = openDatabase(dir, { appVersion: 'test' });
    try {
      assert.equal(again.migratedFrom, undefined);
      assert.equal(new AuditStore(again.db).list({ limit: 100 }).filter((e) => e.actor === ORIGINAL_ACTOR).length, 3);
    } finally {
      again.db.close();
    }
    assert.ok(fs.existsSync(path.join(dir, 'api_token')));
  });

  it('reads the original time formats', () => {
    assert.equal(originalTimeToMs('2025-03-02T10:00:00.123456789+00:00', 0), Date.UTC(2025, 2, 2, 10, 0, 0, 123));
    assert.equal(originalTimeToMs('2025-03-02 10:00:00', 0), Date.UTC(2025, 2, 2, 10, 0, 0));
    assert.equal(originalTimeToMs(1_740_909_600, 0), 1_740_909_600_000);
    assert.equal(originalTimeToMs('garbage', 7), 7);
  });
});
