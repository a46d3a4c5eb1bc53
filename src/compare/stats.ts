/**
 * The statistics of a comparison over seeds: medians and spreads, and a paired test of a
 * policy against the baseline. Seeds are few (3–10), so the test is exact: the paired
 * sign-flip permutation test of the mean difference (Fisher's randomisation test), whose
 * p-value is exact for any n — with n = 3 seeds no difference can reach p < 0.05 (the smallest
 * possible p is 2/2³ = 0.25), which the table says rather than hides. The effect size is the
 * median of the paired differences with a percentile bootstrap interval.
 */
import { mulberry32 } from '../data/random.js';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile by linear interpolation between order statistics (type 7, as R and NumPy). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * Exact two-sided paired sign-flip test of the mean of `diffs` (H0: the differences are
 * symmetric about 0): the fraction of the 2ⁿ sign patterns whose |mean| is at least the
 * observed one. n ≤ 20 (2²⁰ patterns); beyond that a seeded Monte Carlo of 100,000 patterns.
 */
export function signFlipPValue(diffs: readonly number[], seed = 0): number {
  const n = diffs.length;
  if (n === 0) return 1;
  const observed = Math.abs(diffs.reduce((a, b) => a + b, 0));
  const tol = 1e-12 * Math.max(1, observed);
  let extreme = 0;
  let total = 0;
  const count = (signs: (i: number) => number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += signs(i) * diffs[i]!;
    total++;
    if (Math.abs(s) >= observed - tol) extreme++;
  };
  if (n <= 20) {
    for (let mask = 0; mask < 1 << n; mask++) count((i) => ((mask >> i) & 1 ? -1 : 1));
  } else {
    const rand = mulberry32(seed);
    for (let k = 0; k < 100_000; k++) count(() => (rand() < 0.5 ? -1 : 1));
  }
  return extreme / total;
}

/** Percentile bootstrap interval of the median of `xs` (seeded, `resamples` draws). */
export function bootstrapMedianInterval(xs: readonly number[], level = 0.95, resamples = 10_000, seed = 0): [number, number] {
  if (xs.length === 0) return [Number.NaN, Number.NaN];
  const rand = mulberry32(seed);
  const meds = new Float64Array(resamples);
  const draw = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) draw[i] = xs[Math.floor(rand() * xs.length)]!;
    meds[r] = median(draw);
  }
  const sorted = Array.from(meds);
  const a = (1 - level) / 2;
  return [quantile(sorted, a), quantile(sorted, 1 - a)];
}

export interface PairedComparison {
  /** Median of (policy − baseline) over the seeds both have. */
  medianDiff: number;
  interval: [number, number];
  pValue: number;
  /** Seeds paired. */
  n: number;
  /** p < alpha. */
  significant: boolean;
}

/** A policy's values against the baseline's, paired by seed. */
export function pairedComparison(policy: ReadonlyMap<number, number>, baseline: ReadonlyMap<number, number>, alpha = 0.05): PairedComparison | null {
  const diffs = [...policy].filter(([seed, v]) => baseline.has(seed) && Number.isFinite(v) && Number.isFinite(baseline.get(seed)!)).map(([seed, v]) => v - baseline.get(seed)!);
  if (diffs.length === 0) return null;
  const pValue = signFlipPValue(diffs);
  return { medianDiff: median(diffs), interval: bootstrapMedianInterval(diffs), pValue, n: diffs.length, significant: pValue < alpha };
}

/** The smallest p-value the sign-flip test can give with n pairs. */
export function smallestPValue(n: number): number {
  return n === 0 ? 1 : Math.min(1, 2 / 2 ** n);
}
