// "Did you mean" hints for misspelt keys, service names and enum values.
import { distance } from 'fastest-levenshtein';

// Case and -/_ confusions are the commonest slips (`idle-timeout`, `Idle_Timeout`), so they cost nothing.
function normalize(text: string): string {
  return text.toLowerCase().replace(/-/g, '_');
}

// Levenshtein counts a swap of neighbours (`defualt`) as two edits; people make it as one slip.
function isAdjacentSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i + 1 < a.length && a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
}

/**
 * The candidate closest to `input`, or undefined when none is close enough to be a plausible typo
 * (at most one edit per three characters, and at least one edit allowed).
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const want = normalize(input);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const other = normalize(candidate);
    const d = isAdjacentSwap(want, other) ? 1 : distance(want, other);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(want.length, best.length) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** ` (did you mean `x`?)` ready to append to a message, or '' when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>, render: (s: string) => string = (s) => `\`${s}\``): string {
  const hit = suggest(input, candidates);
  return hit === undefined ? '' : ` (did you mean ${render(hit)}?)`;
}
