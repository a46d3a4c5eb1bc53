/**
 * The experiments' statistics against hand computations and brute force: Spearman's ρ with tied
 * ranks, its percentile bootstrap interval against the exact bootstrap distribution (every one of
 * the nⁿ resamples enumerated), and the loss smoothing the thesis' figures use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/errors.js';
import { descentPoints, movingAverage, valueNear, type StepValue } from '../src/experiments/smoothing.js';
import { averageRanks, excludesZero, formatCorrelation, spearman, spearmanInterval } from '../src/experiments/stats.js';

/** Ranks by counting: 1 + (values below) + (ties − 1)/2. */
function bruteRanks(xs: number[]): number[] {
  return xs.map((x) => 1 + xs.filter((v) => v < x).length + (xs.filter((v) => v === x).length - 1) / 2);
}

/** Spearman by the sums formula on counted ranks (mean rank (n+1)/2), independent of the code under test. */
function bruteSpearman(xs: number[], ys: number[]): number {
  const r = bruteRanks(xs);
  const s = bruteRanks(ys);
  const n = xs.length;
  const m = (n + 1) / 2;
  const sum = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i)).reduce((a, b) => a + b, 0);
  return (sum((i) => r[i]! * s[i]!) - n * m * m) / Math.sqrt((sum((i) => r[i]! ** 2) - n * m * m) * (sum((i) => s[i]! ** 2) - n * m * m));
}

test('average ranks share ties', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5, 20])), [2, 4, 4, 1, 4]);
  assert.deepEqual(Array.from(averageRanks([3, 3])), [1.5, 1.5]);
});

test('Spearman by hand: ties give 3/√10; no ties match 1 − 6Σd²/(n(n²−1))', () => {
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5.
  const tied = spearman([1, 2, 2, 3], [1, 3, 2, 4]);
  assert.ok(Math.abs(tied.rho! - 3 / Math.sqrt(10)) < 1e-15);
  // x ranks [1..5], y ranks [2, 1, 4, 3, 5]: Σd² = 4, ρ = 1 − 24/120 = 0.8.
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]).rho! - 0.8) < 1e-15);
  assert.equal(spearman([1, 2, 3], [3, 2, 1]).rho, -1);
});

test('Spearman equals the brute-force reference on random data with ties, and ignores monotone maps', () => {
  let a = 7;
  const rand = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let trial = 0; trial < 50; trial++) {
    const n = 3 + (trial % 9);
    const xs = Array.from({ length: n }, () => Math.floor(rand() * 5));
    const ys = Array.from({ length: n }, (_, i) => xs[i]! + Math.floor(rand() * 4));
    const got = spearman(xs, ys);
    const ref = new Set(xs).size > 1 && new Set(ys).size > 1 ? bruteSpearman(xs, ys) : null;
    if (ref === null) assert.equal(got.rho, null);
    else {
      assert.ok(Math.abs(got.rho! - ref) < 1e-12, `trial ${trial}: ${got.rho} vs ${ref}`);
      assert.ok(Math.abs(spearman(xs.map((x) => Math.exp(x)), ys).rho! - got.rho!) < 1e-12);
    }
  }
});

test('Spearman is null with a reason when undefined; bad input is a UsageError', () => {
  assert.match(spearman([1, 2], [1, 2]).reason!, /at least 3/);
  assert.match(spearman([1, 1, 1], [1, 2, 3]).reason!, /equal/);
  assert.throws(() => spearman([1, 2, 3], [1, 2]), UsageError);
  assert.throws(() => spearman([1, Number.NaN, 3], [1, 2, 3]), UsageError);
  assert.throws(() => spearmanInterval([1, 2, 3], [1, 2, 3], { resamples: 500 }), /at least 2000/);
});

/** The exact bootstrap distribution of ρ: all kᵏ cluster resamples, equally likely (undefined ones left out). */
function exactBootstrap(xs: number[], ys: number[], groups: number[][]): { atoms: number[]; cdf: number[] } {
  const k = groups.length;
  const values: number[] = [];
  for (let c = 0; c < k ** k; c++) {
    const bx: number[] = [];
    const by: number[] = [];
    for (let i = 0, r = c; i < k; i++, r = Math.floor(r / k)) for (const j of groups[r % k]!) bx.push(xs[j]!), by.push(ys[j]!);
    if (new Set(bx).size > 1 && new Set(by).size > 1) values.push(bruteSpearman(bx, by));
  }
  values.sort((p, q) => p - q);
  const atoms = [...new Set(values.map((v) => Math.round(v * 1e12) / 1e12))];
  return { atoms, cdf: atoms.map((t) => values.filter((v) => v <= t + 1e-12).length / values.length) };
}

/** The exact q-quantile atom, asserting the Monte Carlo cannot straddle a jump (margin ≥ 6 standard errors). */
function exactQuantile(e: { atoms: number[]; cdf: number[] }, q: number, resamples: number): number {
  const i = e.cdf.findIndex((c) => c >= q - 1e-12);
  const se = Math.sqrt((q * (1 - q)) / resamples);
  assert.ok(e.cdf[i]! - q > 6 * se && q - (e.cdf[i - 1] ?? 0) > 6 * se, 'test data must keep the quantile away from a jump');
  return e.atoms[i]!;
}

test('bootstrap interval equals the exact percentile interval of all 6⁶ resamples', () => {
  const xs = [0.3, 1.2, 0.7, 2.5, 1.9, 3.1];
  const ys = [1.0, 0.4, 2.2, 1.5, 3.3, 2.9];
  const resamples = 40_000;
  const c = spearmanInterval(xs, ys, { resamples, seed: 3 });
  const exact = exactBootstrap(xs, ys, xs.map((_, i) => [i]));
  assert.ok(Math.abs(c.interval![0] - exactQuantile(exact, 0.025, resamples)) < 1e-9);
  assert.ok(Math.abs(c.interval![1] - exactQuantile(exact, 0.975, resamples)) < 1e-9);
  assert.ok(Math.abs(c.rho! - bruteSpearman(xs, ys)) < 1e-12);
  assert.ok(c.degenerate > 0 && c.degenerate < 40, `6 of 6⁶ resamples repeat one point: ~${(resamples * 6) / 46656} expected, got ${c.degenerate}`);
  assert.deepEqual(spearmanInterval(xs, ys, { resamples, seed: 3 }), c, 'seeded: the same interval again');
});

test('clustered bootstrap resamples whole clusters: equals the exact interval of all 5⁵ cluster resamples', () => {
  const xs = [0.3, 0.5, 1.2, 1.0, 0.7, 0.9, 2.5, 2.2, 1.9, 1.6];
  const ys = [1.0, 1.4, 0.4, 0.9, 2.2, 2.0, 1.5, 1.1, 3.3, 3.0];
  const clusters = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
  const resamples = 40_000;
  const c = spearmanInterval(xs, ys, { resamples, seed: 11, clusters });
  const exact = exactBootstrap(xs, ys, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
  assert.ok(Math.abs(c.interval![0] - exactQuantile(exact, 0.025, resamples)) < 1e-9);
  assert.ok(Math.abs(c.interval![1] - exactQuantile(exact, 0.975, resamples)) < 1e-9);
  assert.equal(c.clusters, 5);
  assert.match(formatCorrelation(c), /^ρ = 0\.\d\d \[-0\.89, 0\.99\], n = 10 runs of 5 networks$/);
  assert.equal(excludesZero(c), false);
});

test('a perfect monotone relation has the degenerate interval [1, 1]; too few clusters give no interval', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8];
  const c = spearmanInterval(xs, xs.map((x) => x * x), { resamples: 2000 });
  assert.deepEqual(c.interval, [1, 1]);
  assert.equal(excludesZero(c), true);
  const two = spearmanInterval([1, 2, 3, 4], [1, 2, 4, 3], { clusters: ['a', 'a', 'b', 'b'] });
  assert.equal(two.interval, null);
  assert.match(two.intervalReason!, /2 cluster/);
});

const pts = (values: number[]): StepValue[] => values.map((value, step) => ({ step, value }));

test('moving average by hand, at the ends over the steps there are; non-finite losses left out', () => {
  const got = movingAverage(pts([1, 2, 3, 4, 10]), 3).map((p) => p.value);
  const want = [1.5, 2, 3, 17 / 3, 7];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-15));
  const gap = movingAverage([{ step: 0, value: 1 }, { step: 1, value: Number.NaN }, { step: 2, value: 3 }], 3);
  assert.deepEqual(gap, [{ step: 0, value: 1 }, { step: 2, value: 3 }]);
});

test('descent points of a closed-form curve: flat 5, then −0.1 per step to 1, then flat', () => {
  const loss = Array.from({ length: 100 }, (_, t) => (t < 20 ? 5 : t <= 60 ? 5 - 0.1 * (t - 20) : 1));
  const d = descentPoints(pts(loss), { window: 5, span: 10 });
  // Inside the ramp (away from its knees by the half window) the smoothed curve is the ramp itself.
  assert.ok(Math.abs(d.steepest!.rate - 0.1) < 1e-12);
  assert.ok(d.steepest!.step >= 27 && d.steepest!.step <= 53, `steepest at ${d.steepest!.step}`);
  assert.deepEqual(d.lowest, { step: 62, loss: 1 }); // (1.1 + 4·1)/5 at 61, exactly 1 from 62
  assert.equal(d.finalLoss, 1);
  const short = descentPoints(pts([3, 2, 1]), { window: 3, span: 10 });
  assert.equal(short.steepest, null);
  assert.match(short.steepestReason!, /fewer than 10 steps/);
});

test('a metric at a point is the median of its samples in the window, or null', () => {
  const samples = [{ step: 0, value: 9 }, { step: 10, value: 1 }, { step: 12, value: 3 }, { step: 14, value: 2 }, { step: 30, value: 7 }];
  assert.equal(valueNear(samples, 12, 5), 2);
  assert.equal(valueNear(samples, 11, 3), 2); // steps 10 and 12: (1 + 3)/2
  assert.equal(valueNear(samples, 22, 5), null);
});
