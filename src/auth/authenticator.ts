// Verifies presented bearer tokens against TokenStore.
import crypto from 'node:crypto';
import { verify as argon2Verify } from '@node-rs/argon2';
import type { TokenStore } from '../store/token-store.js';
import { hashToken, looksLikeToken } from './tokens.js';
import type { Principal } from './principal.js';

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

export interface AuthenticatorOptions {
  now?: () => number;
  /**
   * last_used_at is informational; writing it on every request would turn every read into a
   * database write. It is updated at most this often per token.
   */
  touchEveryMs?: number;
}

export class Authenticator {
  private readonly now: () => number;
  private readonly touchEveryMs: number;
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly tokens: TokenStore,
    opts: AuthenticatorOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.touchEveryMs = opts.touchEveryMs ?? 60_000;
  }

  verify(presented: string): AuthResult {
    // Same message for "malformed" and "unknown": the caller learns nothing about which tokens exist.
    const invalid: AuthResult = { ok: false, reason: 'invalid token' };
    // Tokens imported from tenement 0.2 have no prefix; once verified they are found by hash too.
    if (!looksLikeToken(presented) && !LEGACY_TOKEN_PATTERN.test(presented)) return invalid;
    const hash = hashToken(presented);
    const record = this.tokens.findByHash(hash);
    // The lookup is by hash, so its timing can only reveal something about the hash, which does
    // not help find a token; the explicit constant-time comparison below guards against any
    // store (or a future one) whose equality check short-circuits.
    if (!record || !constantTimeEqual(record.hash, hash)) return invalid;
    if (record.revokedAt !== null) return { ok: false, reason: `token ${record.id} has been revoked` };
    const now = this.now();
    const last = this.lastTouch.get(record.id) ?? 0;
    if (now - last >= this.touchEveryMs) {
      this.lastTouch.set(record.id, now);
      this.tokens.touch(record.id, now);
    }
    return { ok: true, principal: { tokenId: record.id, tenant: record.tenant } };
  }

  /**
   * verify(), then, for a token this server did not issue, the tokens imported from tenement 0.2:
   * their Argon2 hashes (PHC strings, checked with @node-rs/argon2 off the main thread) are tried,
   * those with the token's 8-character prefix first, then the admin token's. A match is upgraded
   * to the SHA-256 lookup, so Argon2 runs once per imported token.
   */
  async authenticate(presented: string): Promise<AuthResult> {
    const result = this.verify(presented);
    if (result.ok || looksLikeToken(presented) || !LEGACY_TOKEN_PATTERN.test(presented)) return result;
    const legacy = this.tokens.legacy;
    if (legacy.count() === 0) return result;
    for (const candidate of legacy.candidates(presented)) {
      let match = false;
      try {
        match = await argon2Verify(candidate.argon2, presented);
      } catch {
        match = false; // an unreadable hash matches nothing
      }
      if (!match) continue;
      legacy.upgrade(candidate.tokenId, hashToken(presented));
      return this.verify(presented);
    }
    return result;
  }
}

/** tenement 0.2 tokens: 32 random bytes, base64url without padding, no prefix. */
const LEGACY_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
