// Tokens imported from tenement 0.2 (original-import.ts) whose Argon2 hash has not been checked
// yet. Each row points at its entry in `tokens` (hash `argon2-pending:<id>`, which never matches);
// once the token is presented and verified, `tokens.hash` becomes its SHA-256 and the row goes.
import type Database from 'better-sqlite3';

export interface LegacyTokenRow {
  tokenId: string;
  /** First 8 characters of the token (tenant tokens); null for the admin token, which had none. */
  prefix: string | null;
  argon2: string;
}

export class LegacyTokenStore {
  private stmt:
    | {
        count: Database.Statement<[], number>;
        candidates: Database.Statement<[string], { token_id: string; prefix: string | null; argon2: string }>;
        upgrade: Database.Statement<[string, string]>;
        remove: Database.Statement<[string]>;
      }
    | null
    | undefined;

  constructor(private readonly db: Database.Database) {}

  /** Statements are prepared on first use: an older schema (tests migrate to a given version) has no table. */
  private statements() {
    if (this.stmt !== undefined) return this.stmt;
    const exists = this.db.prepare<[], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'legacy_tokens'").pluck().get()! > 0;
    this.stmt = exists
      ? {
          count: this.db.prepare<[], number>('SELECT count(*) FROM legacy_tokens').pluck(),
          candidates: this.db.prepare<[string], { token_id: string; prefix: string | null; argon2: string }>(
            'SELECT token_id, prefix, argon2 FROM legacy_tokens WHERE prefix IS NULL OR prefix = ? ORDER BY prefix IS NULL',
          ),
          upgrade: this.db.prepare<[string, string]>('UPDATE tokens SET hash = ? WHERE id = ?'),
          remove: this.db.prepare<[string]>('DELETE FROM legacy_tokens WHERE token_id = ?'),
        }
      : null;
    return this.stmt;
  }

  count(): number {
    return this.statements()?.count.get() ?? 0;
  }

  /** Rows that may match `token`: those with its 8-character prefix, then the admin token's. */
  candidates(token: string): LegacyTokenRow[] {
    const s = this.statements();
    if (!s) return [];
    return s.candidates.all(token.slice(0, 8)).map((r) => ({ tokenId: r.token_id, prefix: r.prefix, argon2: r.argon2 }));
  }

  /** After a successful Argon2 check: the token is found by `sha256` from now on. */
  upgrade(tokenId: string, sha256: string): void {
    const s = this.statements();
    if (!s) return;
    this.db.transaction(() => {
      s.upgrade.run(sha256, tokenId);
      s.remove.run(tokenId);
    })();
  }
}
