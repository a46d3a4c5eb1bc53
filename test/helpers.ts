/** Shared test helpers: seeded small models and batches, relative errors. */
import { tf } from '../src/backend/tf.js';

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  if (a.length !== b.length) return Infinity;
  return den === 0 ? num : num / den;
}

export function scalarRelErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

/** Deterministic uniform values in [-s, s]. */
export function seeded(n: number, seed: number, s = 1): Float32Array {
  let a = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    a ^= a << 13; a >>>= 0; a ^= a >>> 17; a ^= a << 5; a >>>= 0;
    return (a / 4294967296 * 2 - 1) * s;
  });
}

export function seededTensor(shape: number[], seed: number, s = 1): tf.Tensor {
  return tf.tensor(seeded(shape.reduce((p, q) => p * q, 1), seed, s), shape);
}

/** One-hot targets for b examples of k classes. */
export function oneHot(b: number, k: number, seed = 0): tf.Tensor2D {
  return tf.oneHot(tf.tensor1d(Array.from({ length: b }, (_, i) => (i * 7 + seed) % k), 'int32'), k).toFloat() as tf.Tensor2D;
}

/** Sets every weight of a model to deterministic values in [-s, s]. */
export function setSeededWeights(model: tf.LayersModel, seed: number, s = 0.5): void {
  model.setWeights(model.getWeights().map((w, i) => seededTensor(w.shape, seed * 101 + i, s)));
}

// ---------------------------------------------------------------------------------------------
// Added for invariants.test.ts / probeCli.test.ts

import type { RefLayer, RefModel, LossName, Target } from './reference/model.js';

/** A tfjs Sequential of Dense / Conv2D / Flatten layers, with its current weights, as a float64 reference model. */
export function toRefModel(model: tf.LayersModel, loss: LossName): RefModel {
  const layers: RefLayer[] = model.layers.flatMap((layer): RefLayer[] => {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const w = layer.getWeights().map((t) => t.arraySync());
    if (cls === 'Flatten') return [{ kind: 'flatten' }];
    if (cls === 'Dense') return [{ kind: 'dense', W: w[0] as number[][], b: w[1] as number[] | undefined, activation: cfg.activation as never }];
    if (cls === 'Conv2D') {
      const s = cfg.strides as number[];
      return [{ kind: 'conv2d', W: w[0] as number[][][][], b: w[1] as number[] | undefined, strides: [s[0], s[1]], padding: cfg.padding as 'valid' | 'same', activation: cfg.activation as never }];
    }
    throw new Error(`toRefModel: no reference for layer ${cls}`);
  });
  return { inputShape: model.inputs[0].shape.slice(1) as number[], layers, loss };
}

/** A batch tensor as rows of flat examples (float64 numbers). */
export function tensorRows(t: tf.Tensor): number[][] {
  return tf.tidy(() => t.reshape([t.shape[0], -1]).arraySync() as number[][]);
}

/** Targets of a batch in the reference's format. */
export function refTargets(t: tf.Tensor, loss: LossName): Target[] {
  return loss === 'sparseCategoricalCrossentropy' ? (tf.tidy(() => t.reshape([-1]).arraySync()) as number[]) : tensorRows(t);
}
