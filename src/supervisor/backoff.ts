/**
 * Delay before the next restart, given how many restarts already happened within the window:
 * 0 for the first, then base * 2^(n-1) capped at max (0, 1 s, 2 s, 4 s ... 60 s with the defaults),
 * as the original documents.
 */
export function backoffDelay(previousRestarts: number, baseMs: number, maxMs: number): number {
  if (previousRestarts <= 0) return 0;
  const exp = Math.min(previousRestarts - 1, 30);
  return Math.min(baseMs * 2 ** exp, maxMs);
}
