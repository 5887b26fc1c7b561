// Exact weighted traffic split on every Caddy 2.x. Caddy 2.6 has no weighted_round_robin, but
// round_robin over a list in which each upstream appears weight/gcd times gives exact integer
// ratios (75/25 -> A A A B). From 2.7 the native policy takes the reduced weights directly.

export interface Weighted {
  dial: string;
  weight: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Weights divided by their greatest common divisor; entries with weight <= 0 are dropped. */
export function reduceWeights(items: readonly Weighted[]): Weighted[] {
  const live = items.filter((i) => i.weight > 0);
  const g = live.reduce((acc, i) => gcd(acc, i.weight), 0) || 1;
  return live.map((i) => ({ dial: i.dial, weight: i.weight / g }));
}

/**
 * Longest repeated list tenement builds. Caddy provisions (and health-checks) every entry on every
 * reload, so 100 instances with coprime weights (51 vs 100) would otherwise mean ~10,000 entries
 * and reloads of seconds. Beyond this the split is approximated (largest remainders), within
 * 1/MAX_ENTRIES of each weight's share.
 */
export const MAX_REPEATED_ENTRIES = 500;

/** Scales weights down so they sum to at most `max`, keeping every weight >= 1 (largest remainders). */
export function capWeights(items: readonly Weighted[], max: number): Weighted[] {
  const total = items.reduce((n, i) => n + i.weight, 0);
  if (total <= max || items.length > max) return [...items];
  const budget = max - items.length; // everyone keeps 1
  const exact = items.map((i) => ((i.weight - 1) * budget) / (total - items.length || 1));
  const floor = exact.map((x) => Math.floor(x));
  let left = budget - floor.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floor[i]!++;
    left--;
  }
  return items.map((item, i) => ({ dial: item.dial, weight: floor[i]! + 1 }));
}

/** Upstream list for round_robin: each dial repeated by its reduced weight, interleaved. */
export function repeatedUpstreams(items: readonly Weighted[], maxEntries = MAX_REPEATED_ENTRIES): string[] {
  const reduced = reduceWeights(capWeights(reduceWeights(items), maxEntries));
  const left = reduced.map((r) => r.weight);
  const out: string[] = [];
  // Interleave (A B A A rather than A A A B) so short bursts are split fairly too.
  while (left.some((n) => n > 0)) {
    reduced.forEach((r, i) => {
      if (left[i]! > 0) {
        out.push(r.dial);
        left[i]!--;
      }
    });
  }
  return out;
}
