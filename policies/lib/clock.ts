/**
 * AdaScale's scale-invariant clock (Johnson et al., ICML 2020, Algorithm 1): τ advances by the
 * gain r_t of each step instead of by 1, so a schedule written for the base batch, read at τ,
 * plays out the same over training at any batch size. Epochs are scale-invariant too: real
 * epochs × (Σ r_t·b₀)/(Σ b_t), the share of the data's "base-batch worth" of progress made.
 */
import type { Progress } from '../../src/policy.js';
import type { EpochEvent, StepEvent } from '../../src/stream/types.js';

export interface ScaleClock {
  /** τ: scale-invariant steps completed. */
  tau: number;
  /** The gain in force (the one the last emitted rate used); τ advances by it each step. */
  gain: number;
  /** Σ b_t and Σ r_t·b₀ over the steps seen. */
  examples: number;
  scaledExamples: number;
  /** Real epochs completed (from epoch events). */
  epochs: number;
}

export const CLOCK_START: ScaleClock = { tau: 0, gain: 1, examples: 0, scaledExamples: 0, epochs: 0 };

/** The clock after a step taken at the gain in force. */
export function tick(c: ScaleClock, e: StepEvent, baseBatch: number): ScaleClock {
  return { ...c, tau: c.tau + c.gain, examples: c.examples + e.batchSize, scaledExamples: c.scaledExamples + c.gain * baseBatch };
}

/** The clock after the end of an epoch. */
export function endEpoch(c: ScaleClock, e: EpochEvent): ScaleClock {
  return { ...c, epochs: e.epoch };
}

/** Progress as schedules read it. */
export function clockProgress(c: ScaleClock): Progress {
  return { steps: c.tau, epochs: c.examples > 0 ? (c.epochs * c.scaledExamples) / c.examples : c.epochs };
}
