/**
 * Flat views of a model's trainable parameters θ, in `model.trainableWeights` order (kernels
 * and biases alike, each flattened row-major): the coordinate system of every metric.
 */
import { tf } from '../backend/tf.js';

export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Concatenates tensors flattened row-major into one vector. */
export function flatConcat(tensors: tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => tf.concat(tensors.map((t) => t.reshape([-1])), 0) as tf.Tensor1D);
}

/** Splits a flat vector back into tensors of the given shapes. */
export function unflatten(flat: tf.Tensor1D, shapes: number[][]): tf.Tensor[] {
  return tf.tidy(() => {
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    return tf.split(flat, sizes).map((part, i) => part.reshape(shapes[i]));
  });
}

export function parameterCount(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
}

/** θ as one flat vector (a copy). */
export function flatParams(model: tf.LayersModel): tf.Tensor1D {
  return flatConcat(trainableVariables(model));
}

/**
 * Runs `fn` with the weights at θ + ω, then restores θ bit for bit (from clones, not by
 * subtracting ω back).
 */
export function withPerturbedWeights<T>(model: tf.LayersModel, omega: tf.Tensor1D, fn: () => T): T {
  const vars = trainableVariables(model);
  const saved = vars.map((v) => v.clone());
  try {
    const parts = unflatten(omega, vars.map((v) => v.shape));
    vars.forEach((v, i) => {
      const moved = v.add(parts[i]);
      v.assign(moved); // assign copies: the sum is ours to dispose
      moved.dispose();
    });
    tf.dispose(parts);
    return fn();
  } finally {
    vars.forEach((v, i) => v.assign(saved[i]));
    tf.dispose(saved);
  }
}
