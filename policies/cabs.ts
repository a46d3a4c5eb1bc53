/**
 * `cabs`: Coupled Adaptive Batch Size (Balles, Romero & Hennig, UAI 2017, "Coupling Adaptive
 * Batch Sizes with Learning Rates"). For SGD at rate α, the batch that makes the expected
 * improvement per example largest is, with the loss's minimum taken as 0,
 *
 *     B = α · tr(Σ) / L
 *
 * with tr(Σ) the per-example gradient variance (`traceSigma` of the `perExample` group) and L
 * the loss. Both are smoothed with exponential averages, as the authors' implementation does
 * (lballes/cabs, cabs.py: running average constant 0.95 per step, applied here per step so that
 * a sample k steps after the last decays the past by 0.95^k), rounded and clamped to
 * [minBatch, maxBatch]. The rate is the one in force (a composed rate policy may move it, and
 * CABS follows). The authors' code uses the 1/b-normalised variance, (b−1)/b of the unbiased
 * `traceSigma` used here.
 *
 * Defaults: the authors' (16 … 2048, 0.95).
 */
import { z } from 'zod';
import { definePolicy, isMetricInput, isStepInput } from '../src/policy.js';
import { EMPTY_EMA, emaPush, emaValue, stepDecay, type Ema } from './lib/ema.js';
import { clamp, fmt, valueOf } from './lib/signals.js';

const options = z
  .strictObject({
    minBatch: z.int().min(1).default(16).describe('smallest batch'),
    maxBatch: z.int().min(1).default(2048).describe('largest batch'),
    smoothing: z.number().min(0).lt(1).default(0.95).describe('running-average constant per step for tr(Σ) and the loss'),
  })
  .refine((o) => o.minBatch <= o.maxBatch, { message: "options 'minBatch' and 'maxBatch': minBatch must not exceed maxBatch", path: ['minBatch'] });

export interface CabsState {
  trace: Ema;
  loss: Ema;
  /** Step of the last tr(Σ) sample (for the per-step decay). */
  lastSample: number | null;
}

/** The CABS batch size B = α·tr(Σ)/L, rounded and clamped; null when L ≤ 0. */
export function cabsBatch(learningRate: number, traceSigma: number, loss: number, minBatch: number, maxBatch: number): number | null {
  if (!(loss > 0)) return null;
  return clamp(Math.round((learningRate * Math.max(0, traceSigma)) / loss), minBatch, maxBatch);
}

export const cabs = definePolicy({
  name: 'cabs',
  description: 'CABS: batch size = learning rate × tr(Σ) / loss, smoothed and clamped.',
  source: 'Balles, Romero & Hennig, UAI 2017, "Coupling Adaptive Batch Sizes with Learning Rates"',
  knobs: ['batchSize'],
  reads: ['perExample'],
  options,
  init: (): CabsState => ({ trace: EMPTY_EMA, loss: EMPTY_EMA, lastSample: null }),
  update(event, state, h, knobs) {
    if (isStepInput(event)) {
      if (event.loss === null || !Number.isFinite(event.loss)) return [null, state];
      return [null, { ...state, loss: emaPush(state.loss, event.loss, h.smoothing) }];
    }
    if (!isMetricInput(event) || event.group !== 'perExample') return [null, state];
    const sigma = valueOf(event, 'traceSigma');
    if (sigma === null) return [null, state];
    const decay = stepDecay(h.smoothing, state.lastSample === null ? 1 : event.step - state.lastSample);
    const next: CabsState = { ...state, trace: emaPush(state.trace, sigma, decay), lastSample: event.step };
    const trace = emaValue(next.trace)!;
    const loss = emaValue(next.loss);
    const b = loss === null ? null : cabsBatch(knobs.learningRate, trace, loss, h.minBatch, h.maxBatch);
    if (b === null || b === knobs.batchSize) return [null, next];
    const reason = `CABS: lr ${fmt(knobs.learningRate)} × tr Σ ${fmt(trace)} / loss ${fmt(loss!)} = ${fmt((knobs.learningRate * trace) / loss!)}: batch ${knobs.batchSize} → ${b}`;
    return [{ batchSize: b, reason }, next];
  },
});
