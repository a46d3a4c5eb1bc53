/**
 * An in-memory classification data set: float32 inputs and integer labels, one row per
 * example. Batches are materialised as tensors only when a step needs them.
 */
import { tf } from '../backend/tf.js';

export interface Dataset {
  name: string;
  /** Shape of one example, e.g. [28, 28, 1]. */
  inputShape: number[];
  classes: number;
  /** Row-major inputs, `size × prod(inputShape)`. */
  x: Float32Array;
  /** Class index of each example. */
  labels: Int32Array;
  size: number;
}

export function exampleSize(ds: Dataset): number {
  return ds.inputShape.reduce((a, b) => a * b, 1);
}

/** The examples at `indices` as an input tensor and one-hot targets. Caller disposes. */
export function batchTensors(ds: Dataset, indices: ArrayLike<number>): { x: tf.Tensor; y: tf.Tensor } {
  const d = exampleSize(ds);
  const xs = new Float32Array(indices.length * d);
  const ys = new Float32Array(indices.length * ds.classes);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    xs.set(ds.x.subarray(i * d, (i + 1) * d), r * d);
    ys[r * ds.classes + ds.labels[i]] = 1;
  }
  return { x: tf.tensor(xs, [indices.length, ...ds.inputShape]), y: tf.tensor2d(ys, [indices.length, ds.classes]) };
}

/** The first `n` examples (a view, no copy). */
export function take(ds: Dataset, n: number, offset = 0): Dataset {
  const d = exampleSize(ds);
  const size = Math.max(0, Math.min(n, ds.size - offset));
  return {
    ...ds,
    x: ds.x.subarray(offset * d, (offset + size) * d),
    labels: ds.labels.subarray(offset, offset + size),
    size,
  };
}

/** The examples at `indices`, in that order (a copy). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const d = exampleSize(ds);
  const x = new Float32Array(indices.length * d);
  const labels = new Int32Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    x.set(ds.x.subarray(i * d, (i + 1) * d), r * d);
    labels[r] = ds.labels[i];
  }
  return { ...ds, name, x, labels, size: indices.length };
}
