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

/** Upstream list for round_robin: each dial repeated by its reduced weight, interleaved. */
export function repeatedUpstreams(items: readonly Weighted[]): string[] {
  const reduced = reduceWeights(items);
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
