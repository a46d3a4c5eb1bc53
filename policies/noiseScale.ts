/**
 * `noise-scale`: the batch size follows the simple noise scale B_simple = tr(Σ)/‖G‖²
 * (McCandlish, Kaplan, Amodei & OpenAI Dota Team 2018, "An Empirical Model of Large-Batch
 * Training"), the batch at which the gradient's noise and signal are equal and beyond which a
 * larger batch buys little. tr(Σ) (`traceSigma`) and ‖G‖² (`gradSqEstimate`) are averaged
 * separately before the ratio is taken (the paper's appendix A: the ratio of averages is far
 * less noisy than the average of ratios), with a per-step decay. The target is clamped to
 * [minBatch, maxBatch] and a change moves the batch by at most `maxFactor`; it happens only when
 * the target is more than `tolerance` away and `cooldown` steps have passed since the last one.
 *
 * Defaults: decay 0.99 per step (a memory of about 100 steps, a few samples at the usual
 * cadence, short enough to follow B growing as the loss falls in runs of a few hundred steps);
 * batches 16–1024 around the usual 64; at most ×2 per change and 100 steps between changes, so a
 * few changes fit a short run without chasing noise; 25% tolerance, and 3 samples before the
 * first change.
 */
import { z } from 'zod';
import { definePolicy, isMetricInput } from '../src/policy.js';
import { stepDecay } from './lib/ema.js';
import { NO_NOISE, observeNoise, smoothedNoiseScale, type NoiseEstimate } from './lib/gain.js';
import { clamp, fmt } from './lib/signals.js';

const options = z
  .strictObject({
    minBatch: z.int().min(1).default(16).describe('smallest batch size'),
    maxBatch: z.int().min(1).default(1024).describe('largest batch size'),
    maxFactor: z.number().gt(1).default(2).describe('one change multiplies or divides the batch by at most this'),
    tolerance: z.number().min(0).default(0.25).describe('change only when the target differs from the batch by more than this fraction'),
    cooldown: z.int().min(0).default(100).describe('steps between changes'),
    minSamples: z.int().min(1).default(3).describe('perExample samples before the first change'),
    smoothing: z.number().min(0).lt(1).default(0.99).describe('EMA decay per step of tr(Σ) and ‖G‖²'),
  })
  .refine((o) => o.minBatch <= o.maxBatch, { message: "options 'minBatch' and 'maxBatch': minBatch must not exceed maxBatch", path: ['minBatch'] });

type NoiseScaleOptions = z.output<typeof options>;

export interface NoiseScaleState {
  noise: NoiseEstimate;
  samples: number;
  /** Step of the last change (null: none yet). */
  lastChange: number | null;
}

/** The batch the policy aims at for a smoothed noise scale `b`, from the current batch. */
export function noiseScaleTarget(h: NoiseScaleOptions, noiseScale: number, batch: number): number {
  const wanted = clamp(noiseScale, h.minBatch, h.maxBatch);
  return Math.round(clamp(wanted, batch / h.maxFactor, batch * h.maxFactor));
}

export const noiseScale = definePolicy({
  name: 'noise-scale',
  description: 'Moves the batch size toward the smoothed simple noise scale tr(Σ)/‖G‖², bounded and step-limited.',
  source: 'McCandlish et al. 2018, "An Empirical Model of Large-Batch Training" (B_simple, appendix A)',
  knobs: ['batchSize'],
  reads: ['perExample'],
  options,
  init: (): NoiseScaleState => ({ noise: NO_NOISE, samples: 0, lastChange: null }),
  update(event, state, h, knobs) {
    if (!isMetricInput(event)) return [null, state];
    const noise = observeNoise(state.noise, event, (k) => stepDecay(h.smoothing, k));
    if (noise === state.noise) return [null, state];
    const next = { ...state, noise, samples: state.samples + 1 };
    const b = smoothedNoiseScale(noise);
    if (b === null || next.samples < h.minSamples) return [null, next];
    if (state.lastChange !== null && event.step - state.lastChange < h.cooldown) return [null, next];
    const target = Math.round(clamp(noiseScaleTarget(h, b, knobs.batchSize), h.minBatch, h.maxBatch));
    if (Math.abs(target - knobs.batchSize) <= h.tolerance * knobs.batchSize) return [null, next];
    const reason = `noise scale ${fmt(b)} (tr Σ/‖G‖², smoothed): batch ${knobs.batchSize} → ${target}`;
    return [{ batchSize: target, reason }, { ...next, lastChange: event.step }];
  },
});
