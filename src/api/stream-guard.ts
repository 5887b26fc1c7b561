// Limits on long-lived responses (the log stream): a token is checked once at open, but a stream
// can outlive the token's revocation by days (issue 11 #6), and one token could hold any number
// of streams. The guard counts streams per token and re-checks the token while a stream is open.
import type { TokenStore } from '../store/token-store.js';
import { HttpError } from './errors.js';

export interface StreamGuardOptions {
  /** Streams one token may hold open at once. Default 10. */
  maxPerToken?: number;
  /** How often an open stream's token is looked up again. Default 2 s. */
  recheckMs?: number;
}

export class StreamGuard {
  private readonly open = new Map<string, number>();
  readonly maxPerToken: number;
  readonly recheckMs: number;

  constructor(
    private readonly tokens: TokenStore,
    opts: StreamGuardOptions = {},
  ) {
    this.maxPerToken = opts.maxPerToken ?? 10;
    this.recheckMs = opts.recheckMs ?? 2000;
  }

  /** Counts a new stream of `tokenId`, or refuses it (429). Returns the release function. */
  acquire(tokenId: string): () => void {
    const n = this.open.get(tokenId) ?? 0;
    if (n >= this.maxPerToken) {
      throw new HttpError(429, `token ${tokenId} already has ${n} open log streams (at most ${this.maxPerToken}); close one first`, { 'Retry-After': '5' });
    }
    this.open.set(tokenId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tokenId) ?? 1) - 1;
      if (left <= 0) this.open.delete(tokenId);
      else this.open.set(tokenId, left);
    };
  }

  /** Calls `onRevoked` once when the token is revoked or deleted; returns the stop function. */
  watch(tokenId: string, onRevoked: () => void): () => void {
    const timer = setInterval(() => {
      let valid: boolean;
      try {
        const t = this.tokens.get(tokenId);
        valid = t !== undefined && t.revokedAt === null;
      } catch {
        valid = true; // a store hiccup is not a revocation; the next check decides
      }
      if (!valid) {
        clearInterval(timer);
        onRevoked();
      }
    }, this.recheckMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
