// API tokens, stored as hashes only. Lookup is by hash, so callers must hash with a deterministic
// function (e.g. SHA-256 of the 32-byte random token); a salted password hash such as Argon2
// cannot be looked up and would force checking every token on every request.
import type Database from 'better-sqlite3';
import { LegacyTokenStore } from './legacy-token-store.js';
import type { TokenRecord } from './types.js';

interface TokenRow {
  id: string;
  tenant: string | null;
  hash: string;
  label: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function fromRow(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    hash: r.hash,
    label: r.label,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

export class DuplicateTokenError extends Error {
  constructor(what: 'id' | 'hash', id: string) {
    super(what === 'id' ? `a token with id ${id} already exists` : `token ${id} has the same hash as an existing token`);
    this.name = 'DuplicateTokenError';
  }
}

export interface TokenFilter {
  /** A tenant name, or null for admin tokens only. Absent = all. */
  tenant?: string | null;
  /** Default true: listings show revoked tokens with their revokedAt. */
  includeRevoked?: boolean;
}

export class TokenStore {
  private readonly stmt;
  /** Tokens imported from tenement 0.2, checked with Argon2 until their first use. */
  readonly legacy: LegacyTokenStore;

  constructor(db: Database.Database) {
    this.legacy = new LegacyTokenStore(db);
    this.stmt = {
      insert: db.prepare<[string, string | null, string, string | null, number, number | null, number | null]>(
        'INSERT INTO tokens (id, tenant, hash, label, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      byHash: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE hash = ?'),
      byId: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE id = ?'),
      list: db.prepare<{ anyTenant: number; tenant: string | null; includeRevoked: number }, TokenRow>(
        `SELECT * FROM tokens
         WHERE (@anyTenant = 1 OR tenant IS @tenant) AND (@includeRevoked = 1 OR revoked_at IS NULL)
         ORDER BY created_at, id`,
      ),
      // The first revocation time is kept: revoking twice is not a new event.
      revoke: db.prepare<[number, string]>('UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?'),
      touch: db.prepare<[number, string]>('UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
    };
  }

  /** Throws DuplicateTokenError if the id or the hash already exists. */
  insert(record: TokenRecord): void {
    try {
      this.stmt.insert.run(record.id, record.tenant, record.hash, record.label ?? null, record.createdAt, record.lastUsedAt ?? null, record.revokedAt ?? null);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : '';
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateTokenError('id', record.id);
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' && message.includes('tokens.hash')) throw new DuplicateTokenError('hash', record.id);
      throw err;
    }
  }

  /** The token with this hash, revoked or not: the caller must check revokedAt. */
  findByHash(hash: string): TokenRecord | undefined {
    const row = this.stmt.byHash.get(hash);
    return row ? fromRow(row) : undefined;
  }

  get(id: string): TokenRecord | undefined {
    const row = this.stmt.byId.get(id);
    return row ? fromRow(row) : undefined;
  }

  /** Oldest first. */
  list(filter: TokenFilter = {}): TokenRecord[] {
    return this.stmt.list
      .all({
        anyTenant: filter.tenant === undefined ? 1 : 0,
        tenant: filter.tenant ?? null,
        includeRevoked: filter.includeRevoked === false ? 0 : 1,
      })
      .map(fromRow);
  }

  /** Revokes (idempotently). Returns false if there is no such token. */
  revoke(id: string, at: number = Date.now()): boolean {
    return this.stmt.revoke.run(at, id).changes > 0;
  }

  /** Records a use at `at`; never moves last_used_at backwards. Returns false if there is no such token. */
  touch(id: string, at: number): boolean {
    return this.stmt.touch.run(at, id).changes > 0;
  }
}
