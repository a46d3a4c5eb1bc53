/**
 * Float64 reductions of a few long float32 vectors on the host. Used where float32 sums would
 * cancel (differences of nearly equal gradients) and the vectors are few (K + 1, n batches).
 */
import { tf } from '../backend/tf.js';
import type { Gram } from '../metrics/gram.js';

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** ‖a − b‖ with each difference taken in float64. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

export function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/** A [n, n] float32 tensor's data as a float64 Gram matrix, symmetrised. */
export function toGram(n: number, data: ArrayLike<number>): Gram {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0.5 * (data[i * n + j] + data[j * n + i]);
  return { n, data: out };
}

/**
 * The values of the tensor `make` returns, with every tensor it made disposed. (Returning a
 * typed array from `tf.tidy` itself makes tidy walk every element looking for tensors.)
 */
export function readback(make: () => tf.Tensor): Float32Array {
  const t = tf.tidy(() => make().clone()); // a clone: `make` may return a tensor it does not own
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}
