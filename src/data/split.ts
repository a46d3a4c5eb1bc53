/**
 * Seeded ways to cut a data set: a class-balanced draw (for the image sets, whose classes are
 * balanced) and a shuffle-then-cut by fractions (for a user's CSV or JSON, whose classes may
 * not be). Both are pure functions of the seed, so a run spec names its splits exactly.
 */
import { UsageError } from '../errors.js';
import { mulberry32, permutation } from './random.js';

/** An independent seed for sub-stream `k` of `seed` (one per split, so they never interact). */
export function subSeed(seed: number, k: number): number {
  return (Math.imul(seed >>> 0, 0x2545f491) ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0;
}

export interface Draw {
  /** Drawn indices, in the (random) order they were drawn. */
  picked: Int32Array;
  /** The other candidates, in the same random order. */
  rest: Int32Array;
}

/**
 * `n` of `candidates`, class-balanced: walk a seeded permutation of the candidates and keep an
 * item while its class is under quota. Quotas are ⌊n/K⌋ each, one more for the first n mod K
 * classes by class index. A class with too few candidates is a UsageError, not a smaller draw.
 */
export function balancedDraw(labels: ArrayLike<number>, classes: number, candidates: Int32Array, n: number, seed: number, what: string): Draw {
  if (n > candidates.length) throw new UsageError(`${what}: ${n} examples asked, only ${candidates.length} available`);
  const quota = Array.from({ length: classes }, (_, c) => Math.floor(n / classes) + (c < n % classes ? 1 : 0));
  const order = permutation(candidates.length, mulberry32(seed));
  const picked = new Int32Array(n);
  const rest = new Int32Array(candidates.length - n);
  let p = 0;
  let r = 0;
  for (const k of order) {
    const i = candidates[k];
    if (p < n && quota[labels[i]] > 0) {
      quota[labels[i]]--;
      picked[p++] = i;
    } else if (r < rest.length) {
      rest[r++] = i;
    }
  }
  const short = quota.findIndex((q) => q > 0);
  if (short >= 0) throw new UsageError(`${what}: cannot draw ${n} class-balanced examples, class ${short} has too few`);
  return { picked, rest };
}

/** Fractions of the examples in each split; they sum to 1. */
export interface Fractions {
  train: number;
  validation: number;
  test: number;
}

export const DEFAULT_FRACTIONS: Fractions = { train: 0.8, validation: 0.1, test: 0.1 };

/**
 * Shuffles 0..size−1 with `seed` and cuts it: validation = round(f_val·size) first, then
 * test = round(f_test·size), train = the rest (which must not be empty).
 */
export function fractionSplit(size: number, fractions: Fractions, seed: number, what: string): { train: Int32Array; validation: Int32Array; test: Int32Array } {
  const order = permutation(size, mulberry32(seed));
  const nVal = Math.round(fractions.validation * size);
  const nTest = Math.round(fractions.test * size);
  if (nVal + nTest >= size) throw new UsageError(`${what}: ${size} examples leave none for training after ${nVal} validation and ${nTest} test`);
  return { validation: order.subarray(0, nVal), test: order.subarray(nVal, nVal + nTest), train: order.subarray(nVal + nTest) };
}

/** The first `n` of `indices`, or all when `n` is undefined; asking for more is a UsageError. */
export function atMost(indices: Int32Array, n: number | undefined, what: string): Int32Array {
  if (n === undefined) return indices;
  if (n > indices.length) throw new UsageError(`${what}: ${n} examples asked, the split has ${indices.length}`);
  return indices.subarray(0, n);
}
