/** The comparison's statistics against hand computations. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootstrapMedianInterval, median, pairedComparison, quantile, signFlipPValue, smallestPValue } from '../src/compare/stats.js';

describe('comparison statistics', () => {
  test('median and quantiles (type 7, as NumPy)', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(quantile([10, 20], 0.9), 19);
    assert.ok(Number.isNaN(median([])));
  });

  test('the sign-flip test is exact: p for hand-enumerated cases', () => {
    // [1, 2, 3]: of the 8 sign patterns only (+,+,+) and (−,−,−) reach |sum| = 6.
    assert.equal(signFlipPValue([1, 2, 3]), 2 / 8);
    // [3, 1]: |sums| are 4, 2, 2, 4 → p = 2/4.
    assert.equal(signFlipPValue([3, 1]), 0.5);
    // [1, −1, 2, 5]: sum 7. Up to a full flip, the 8 patterns flip {}, {1}, {−1}, {2}, {5}, {1,−1},
    // {1,2}, {1,5}, giving 7, 5, 9, 3, −3, 7, 1, −5: three reach |sum| ≥ 7, so p = 6/16.
    assert.equal(signFlipPValue([1, -1, 2, 5]), 6 / 16);
    assert.equal(signFlipPValue([0, 0, 0]), 1);
    assert.equal(smallestPValue(3), 0.25);
    assert.equal(smallestPValue(6), 2 / 64);
  });

  test('paired comparison pairs by seed and ignores unmatched seeds', () => {
    const base = new Map([[0, 0.8], [1, 0.81], [2, 0.79], [3, 0.8], [4, 0.82], [5, 0.8]]);
    const better = new Map([[0, 0.85], [1, 0.86], [2, 0.84], [3, 0.86], [4, 0.87], [5, 0.85], [9, 0.1]]);
    const c = pairedComparison(better, base)!;
    assert.equal(c.n, 6);
    assert.ok(Math.abs(c.medianDiff - 0.05) < 1e-12);
    assert.equal(c.pValue, 2 / 64);
    assert.equal(c.significant, true);
    assert.ok(c.interval[0] <= c.medianDiff && c.medianDiff <= c.interval[1]);
    const three = pairedComparison(new Map([[0, 1], [1, 2], [2, 3]]), new Map([[0, 0], [1, 0], [2, 0]]))!;
    assert.equal(three.significant, false, 'three seeds can never reach p < 0.05');
  });

  test('the bootstrap interval of the median covers the data range and is seeded', () => {
    const xs = [1, 2, 3, 4, 100];
    const [lo, hi] = bootstrapMedianInterval(xs, 0.95, 2000, 1);
    assert.ok(lo >= 1 && hi <= 100 && lo <= 3 && hi >= 3);
    assert.deepEqual(bootstrapMedianInterval(xs, 0.95, 2000, 1), [lo, hi]);
  });
});
