/**
 * Random masks (thesis section 1.6): keep `ceil(p · size)` coordinates of every trainable
 * variable (at least one), chosen once from a seed and fixed for the run. A mask is applied to
 * every parameter-space vector before any norm or inner product; `p = 1` is no mask.
 */
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { mulberry32 } from '../data/random.js';

export interface Mask {
  p: number;
  /** Kept coordinates of the flat parameter vector, sorted. */
  indices: Int32Array;
  /** Length of the unmasked flat vector. */
  size: number;
}

/** Builds the mask for variables of these sizes; `null` for p = 1. */
export function createMask(variableSizes: number[], p: number, seed: number): Mask | null {
  if (!(p > 0 && p <= 1)) throw new UsageError(`mask fraction must be in (0, 1], got ${p}`);
  if (p === 1) return null;
  const rand = mulberry32(seed);
  const kept: number[] = [];
  let offset = 0;
  for (const size of variableSizes) {
    const k = Math.max(1, Math.ceil(p * size));
    // Partial Fisher–Yates: the first k of a seeded permutation.
    const perm = Int32Array.from({ length: size }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rand() * (size - i));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const chosen = Array.from(perm.subarray(0, k)).sort((a, b) => a - b);
    for (const c of chosen) kept.push(offset + c);
    offset += size;
  }
  return { p, indices: Int32Array.from(kept), size: offset };
}

/** Masked view of flat parameter-space vectors along `axis` (the last by default). */
export function applyMask<T extends tf.Tensor>(mask: Mask | null, v: T): T {
  if (!mask) return v;
  return tf.tidy(() => tf.gather(v, tf.tensor1d(mask.indices, 'int32'), v.rank - 1)) as T;
}

/** Zeroes the coordinates outside the mask (for perturbations, which live in the full space). */
export function zeroOutsideMask(mask: Mask | null, v: tf.Tensor1D): tf.Tensor1D {
  if (!mask) return v.clone();
  return tf.tidy(() => {
    const keep = new Float32Array(mask.size);
    for (const i of mask.indices) keep[i] = 1;
    return v.mul(tf.tensor1d(keep)) as tf.Tensor1D;
  });
}
