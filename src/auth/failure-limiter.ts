// Limits failed authentication attempts per client address with a sliding window. The original
// kept one global counter, so ten bad guesses from anyone locked out every client; here only the
// address that keeps failing is refused, everyone else is unaffected.
export interface FailureLimiterOptions {
  /** Failures allowed within the window; the next attempt is refused. Default 10. */
  maxFailures?: number;
  /** Default 60 s. */
  windowMs?: number;
  /**
   * Addresses tracked at once. A flood from many addresses must not grow memory without bound;
   * beyond this the address with the oldest activity is forgotten. Default 10,000.
   */
  maxAddresses?: number;
  now?: () => number;
}

export type LimitDecision = { blocked: false } | { blocked: true; retryAfterSec: number };

export class FailureLimiter {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** address -> failure times, oldest first. Map order = least recently failed first. */
  private readonly failures = new Map<string, number[]>();

  constructor(opts: FailureLimiterOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
    this.now = opts.now ?? Date.now;
    if (!Number.isInteger(this.maxFailures) || this.maxFailures < 1) throw new Error(`maxFailures must be a positive integer, got ${this.maxFailures}`);
    if (!(this.windowMs > 0)) throw new Error(`windowMs must be positive, got ${this.windowMs}`);
  }

  /** Whether `address` may attempt to authenticate now. */
  check(address: string): LimitDecision {
    const times = this.recent(address);
    if (times.length < this.maxFailures) return { blocked: false };
    // Allowed again once enough of the window's failures have aged out to get below the limit.
    const oldestCounted = times[times.length - this.maxFailures]!;
    const retryAfterMs = oldestCounted + this.windowMs - this.now();
    return { blocked: true, retryAfterSec: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
  }

  recordFailure(address: string): void {
    const times = this.recent(address);
    times.push(this.now());
    // Keep at most maxFailures entries: older ones cannot change any decision.
    if (times.length > this.maxFailures) times.splice(0, times.length - this.maxFailures);
    this.failures.delete(address);
    this.failures.set(address, times);
    while (this.failures.size > this.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
  }

  /** Number of addresses currently tracked (tests, metrics). */
  get size(): number {
    return this.failures.size;
  }

  private recent(address: string): number[] {
    const times = this.failures.get(address);
    if (!times) return [];
    const cutoff = this.now() - this.windowMs;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    if (times.length === 0) this.failures.delete(address);
    return times;
  }
}
