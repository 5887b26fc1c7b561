// API tokens: what they look like, how they are hashed, how they are issued.
//
// A token is `ten_` + 32 random bytes in base64url. The prefix makes a leaked token recognizable
// (secret scanners, a grep through logs) and lets the server refuse obvious garbage cheaply.
//
// Why SHA-256 and not Argon2 (as the original used): a slow, salted password hash exists to make
// guessing *low-entropy* secrets expensive after the hashes leak. These tokens carry 256 bits of
// randomness; no amount of hashing speed makes 2^256 guesses feasible, so a fast hash loses
// nothing. It is also deterministic, which is what lets TokenStore find a token by its hash with
// one indexed lookup instead of verifying every stored hash on every request.
import crypto from 'node:crypto';
import type { TokenStore } from '../store/token-store.js';
import type { TokenRecord } from '../store/types.js';

export const TOKEN_PREFIX = 'ten_';
const TOKEN_BYTES = 32;
/** base64url of 32 bytes, without padding. */
const TOKEN_PATTERN = /^ten_[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** True if the text has the shape of a token this server issues (says nothing about validity). */
export function looksLikeToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** A fresh secret token. */
export function generateToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Public, non-secret name of a token: shown in listings and audit entries, used to revoke it. */
export function generateTokenId(): string {
  return `tok_${crypto.randomBytes(6).toString('hex')}`;
}

export interface IssueOptions {
  /** null = admin token. */
  tenant: string | null;
  label?: string | null;
  now?: number;
}

export interface IssuedToken {
  /** The secret: shown once, never stored. */
  token: string;
  record: TokenRecord;
}

/** Creates a token and stores its hash. The returned secret cannot be recovered later. */
export function issueToken(store: TokenStore, opts: IssueOptions): IssuedToken {
  const token = generateToken();
  const record: TokenRecord = {
    id: generateTokenId(),
    tenant: opts.tenant,
    hash: hashToken(token),
    label: opts.label ?? null,
    createdAt: opts.now ?? Date.now(),
    lastUsedAt: null,
    revokedAt: null,
  };
  store.insert(record);
  return { token, record };
}
