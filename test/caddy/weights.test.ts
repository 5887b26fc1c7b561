import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capWeights, reduceWeights, repeatedUpstreams, MAX_REPEATED_ENTRIES } from '../../caddy/weights.js';

const count = (list: string[]) => list.reduce<Record<string, number>>((m, d) => ((m[d] = (m[d] ?? 0) + 1), m), {});

test('weights are reduced by their gcd and interleaved', () => {
  assert.deepEqual(
    reduceWeights([
      { dial: 'a', weight: 75 },
      { dial: 'b', weight: 25 },
      { dial: 'c', weight: 0 },
    ]),
    [
      { dial: 'a', weight: 3 },
      { dial: 'b', weight: 1 },
    ],
  );
  assert.deepEqual(
    repeatedUpstreams([
      { dial: 'a', weight: 75 },
      { dial: 'b', weight: 25 },
    ]),
    ['a', 'b', 'a', 'a'],
  );
  assert.deepEqual(repeatedUpstreams([{ dial: 'a', weight: 100 }]), ['a']);
  assert.deepEqual(repeatedUpstreams([{ dial: 'a', weight: 0 }]), []);
});

test('exact ratios up to the cap; beyond it, a bounded list whose shares stay close', () => {
  const exact = repeatedUpstreams([
    { dial: 'a', weight: 99 },
    { dial: 'b', weight: 1 },
  ]);
  assert.deepEqual(count(exact), { a: 99, b: 1 });
  const many = Array.from({ length: 100 }, (_, i) => ({ dial: `u${i}`, weight: i === 0 ? 51 : 100 }));
  const list = repeatedUpstreams(many);
  assert.ok(list.length <= MAX_REPEATED_ENTRIES, `${list.length} entries`);
  const c = count(list);
  assert.equal(Object.keys(c).length, 100, 'every weighted instance keeps at least one entry');
  const share0 = c.u0! / list.length;
  assert.ok(Math.abs(share0 - 51 / (51 + 99 * 100)) < 1 / MAX_REPEATED_ENTRIES + 0.002, `share of u0: ${share0}`);
  const capped = capWeights(
    [
      { dial: 'a', weight: 300 },
      { dial: 'b', weight: 700 },
    ],
    100,
  );
  assert.deepEqual(
    capped.map((x) => x.weight),
    [30, 70],
  );
});
