/** What every metric group's sampler needs to know about the model under measurement. */
import type { tf } from '../backend/tf.js';
import type { PerExampleLoss } from './losses.js';
import type { Mask } from './mask.js';

export interface EngineContext {
  model: tf.LayersModel;
  loss: PerExampleLoss;
  mask: Mask | null;
  /** Perturbation scale η (default 1e-3). */
  eta: number;
  /** Layers in training mode during metric passes (default false: deterministic). */
  training?: boolean;
}

/**
 * Weight-perturbation directions (docs/metrics.md): `gradient` ±η h̄/‖h̄‖∞, `per-example` ±η h_k/‖h_k‖,
 * `random` Gaussian scaled to ‖ω‖∞ = η, `descent` −s h_k/‖h_k‖ one-sided at step scale s.
 */
export type WeightSampling = 'gradient' | 'per-example' | 'random' | 'descent';
export const WEIGHT_SAMPLINGS: readonly WeightSampling[] = ['gradient', 'per-example', 'random', 'descent'];

export interface WeightSamplingOptions {
  sampling: WeightSampling;
  /** per-example / descent: the first n examples; random: n draws. */
  n: number;
  seed: number;
  /** descent: the step scale s (the last update's norm ‖Δ‖); η when absent. */
  stepScale?: number;
}
