/**
 * `adascale`: AdaScale SGD (Johnson, Agrawal, Gu & Guestrin, ICML 2020, "AdaScale SGD: A
 * User-Friendly Algorithm for Distributed Training", Algorithm 1). A batch S times the base
 * batch b₀ averages away part of the gradient noise; the gain ratio r = (σ² + μ²)/(σ²/S + μ²)
 * (1 ≤ r ≤ S) says how many base-batch steps one such step is worth, and AdaScale takes the
 * rate lr = r · lr₀ and advances its progress clock by τ += r per step. σ² is the variance of a
 * base-batch gradient, tr(Σ)/b₀ from the per-example `traceSigma`, and μ² = ‖G‖² is
 * `gradSqEstimate`; both are smoothed (as AdaptDL's AdaScale does: decay `smoothing`^S per
 * step, bias-corrected), and r is recomputed for the batch of the next step.
 *
 * It keeps the progress clock and scales the rate of a schedule composed after it:
 * `adascale+cosine` runs the cosine over τ, at the rate r_t · cosine(τ_t) (see src/policy.ts).
 * Put a batch-size policy before it (`noise-scale+adascale`) so that r sees the new batch.
 *
 * AdaScale is defined for SGD (with or without momentum); with adam it still rescales the rate,
 * which the paper does not analyse. The gain is 1 until the first perExample sample, and always
 * 1 at the base batch.
 *
 * Defaults: b₀ = the starting batch; decay 0.99 per step rather than AdaptDL's 0.999, because
 * runs here are hundreds, not hundreds of thousands, of steps (memory ≈ 100 base steps).
 */
import { z } from 'zod';
import { definePolicy, isEpochInput, isMetricInput, type PolicyInput } from '../src/policy.js';
import type { StepEvent } from '../src/stream/types.js';
import { stepDecay } from './lib/ema.js';
import { CLOCK_START, clockProgress, endEpoch, tick, type ScaleClock } from './lib/clock.js';
import { NO_NOISE, observeNoise, smoothedGain, type NoiseEstimate } from './lib/gain.js';
import { fmt } from './lib/signals.js';

const options = z.strictObject({
  baseBatch: z.int().min(1).optional().describe('the batch b₀ the base rate is tuned for (default: the starting batch)'),
  smoothing: z.number().min(0).lt(1).default(0.99).describe('EMA decay per base-batch step of σ² and μ² (AdaptDL: 0.999)'),
});

export interface AdaScaleState {
  /** b₀ (0 until known, when the start gives no batch size). */
  baseBatch: number;
  /** The rate at gain 1 (the starting rate); in a composition the schedule's rate replaces it. */
  baseLr: number;
  noise: NoiseEstimate;
  clock: ScaleClock;
}

/** Relative gain changes at or below this keep the gain in force. */
export const GAIN_TOLERANCE = 1e-3;

/**
 * One AdaScale reducer step (shared with `goodput`): the noise estimate on samples, τ and the
 * gain for the next step's batch `nextBatch` on steps. Returns the new gain when it changed.
 */
export function adaScaleStep(state: AdaScaleState, event: PolicyInput, nextBatch: number, smoothing: number): [number | null, AdaScaleState] {
  if (isEpochInput(event)) return [null, { ...state, clock: endEpoch(state.clock, event) }];
  // Under model.fit the runner may not know the batch at the start: b₀ is then the first seen.
  const s = state.baseBatch > 0 ? state : { ...state, baseBatch: event.batchSize };
  if (isMetricInput(event)) {
    const scale = event.batchSize / s.baseBatch;
    const noise = observeNoise(s.noise, event, (k) => stepDecay(smoothing, k * scale));
    return [null, noise === s.noise ? s : { ...s, noise }];
  }
  const clock = tick(s.clock, event, s.baseBatch);
  const gain = smoothedGain(s.noise, s.baseBatch, nextBatch > 0 ? nextBatch : event.batchSize);
  // A change under GAIN_TOLERANCE is rounding in the averages, not worth a rate update.
  if (Math.abs(gain - clock.gain) <= GAIN_TOLERANCE * clock.gain) return [null, { ...s, clock }];
  return [gain, { ...s, clock: { ...clock, gain } }];
}

export const adascale = definePolicy({
  name: 'adascale',
  description: 'AdaScale: rate = gain ratio r_t × base rate, progress τ += r_t (scales a schedule composed after it).',
  source: 'Johnson et al., ICML 2020, "AdaScale SGD: A User-Friendly Algorithm for Distributed Training"',
  knobs: ['learningRate'],
  reads: ['perExample'],
  options,
  init: (h, start): AdaScaleState => ({ baseBatch: h.baseBatch ?? start.batchSize, baseLr: start.learningRate, noise: NO_NOISE, clock: CLOCK_START }),
  update(event, state, h, knobs) {
    const before = state.clock.gain;
    const [gain, next] = adaScaleStep(state, event, knobs.batchSize, h.smoothing);
    if (gain === null) return [null, next];
    const lr = gain * state.baseLr;
    const batch = knobs.batchSize > 0 ? knobs.batchSize : (event as StepEvent).batchSize; // gains change at steps
    const reason = `AdaScale gain ${fmt(before)} → ${fmt(gain)} at batch ${batch} = ${fmt(batch / next.baseBatch)} × ${next.baseBatch}: lr ${fmt(knobs.learningRate)} → ${fmt(lr)} (τ ${fmt(next.clock.tau)})`;
    return [{ learningRate: lr, reason }, next];
  },
  clock: (state) => clockProgress(state.clock),
  learningRateScale: (state) => state.clock.gain,
});
