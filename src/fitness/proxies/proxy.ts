/** What every zero-cost proxy is: a function of a model at its current weights and one batch. */
import type { tf } from '../../backend/tf.js';
import type { PerExampleLoss } from '../../engine/losses.js';
import type { MetricValue } from '../../metrics/result.js';

export interface ProxyInput {
  readonly model: tf.LayersModel;
  /** Inputs `[b, ...inputShape]`. */
  readonly x: tf.Tensor;
  /** Targets in the loss's format (one-hot for categoricalCrossentropy). */
  readonly y: tf.Tensor;
  readonly loss: PerExampleLoss;
  /**
   * Run the layers in training mode, as the reference code does (its PyTorch models are in
   * training mode at initialisation): BatchNormalization normalises with the batch's own
   * statistics, and dropout is active. The moving statistics it writes are restored afterwards.
   */
  readonly training: boolean;
}

/** A proxy's score, or null with the reason it is undefined; never NaN or ±Infinity. */
export type Proxy = (input: ProxyInput) => MetricValue;

/** Σ of a few float32 values, taken in float64. */
export function sum64(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}
