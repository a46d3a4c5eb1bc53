/**
 * Proxies must leave the model as they found it. Two things change it: synflow replaces every
 * weight by its absolute value, and a training-mode forward pass updates BatchNormalization's
 * moving statistics. Both are undone here from clones, bit for bit (never by inverting the change).
 */
import { tf } from '../../backend/tf.js';

/** Runs `fn`, then puts `variables` back to the values they had before, even when `fn` throws. */
export function restoring<T>(variables: readonly tf.Variable[], fn: () => T): T {
  const saved = variables.map((v) => v.clone());
  try {
    return fn();
  } finally {
    variables.forEach((v, i) => v.assign(saved[i]!));
    tf.dispose(saved);
  }
}

export function trainableVariablesOf(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Runs `fn`, undoing what a training-mode pass writes into the model's non-trainable weights. */
export function keepingModelState<T>(model: tf.LayersModel, training: boolean, fn: () => T): T {
  if (!training || model.nonTrainableWeights.length === 0) return fn();
  return restoring(model.nonTrainableWeights.map((w) => w.read() as tf.Variable), fn);
}
