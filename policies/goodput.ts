/**
 * `goodput`: the batch size that maximises goodput = throughput × statistical efficiency, as
 * AdaptDL/Pollux choose it (Qiao et al., OSDI 2021, "Pollux: Co-adaptive Cluster Scheduling for
 * Goodput-Optimized Deep Learning"), with AdaScale's rate scaling when the batch changes.
 *
 * - Statistical efficiency of a batch m against the starting batch m₀:
 *   EFFICIENCY(m) = (φ + m₀)/(φ + m), φ = tr(Σ)/‖G‖² the gradient noise scale (smoothed as in
 *   `noise-scale`). It is the AdaScale gain per example: r(m)·m₀/m.
 * - Throughput: the paper's model of one step's time on one device, T(m) = α + β·m (its
 *   T_grad; there is no synchronisation term on one device), fitted by weighted least squares to
 *   the mean `stepMs` observed at each batch size (the first step at each size is skipped: it
 *   compiles kernels). With one batch size seen, no slope can be fitted, so the policy first
 *   explores: it tries a batch `explore` times larger (our choice; Pollux profiles the sizes the
 *   job runs at).
 * - Goodput m/T(m) · (φ + m₀)/(φ + m) has its maximum at m* = √(α·φ/β) (setting its log's
 *   derivative 1/m − β/(α + βm) − 1/(φ + m) to zero); m* is clamped to [minBatch, maxBatch] and a
 *   change is at most ×`maxFactor`.
 * - The rate: r(m)·base rate, AdaScale's gain for the new batch; the policy keeps AdaScale's
 *   progress clock, so `goodput+cosine` works like `adascale+cosine`.
 *
 * Defaults: as Pollux, the batch never goes below the starting batch m₀; a decision every 50
 * steps (several decisions in a run of a few hundred steps, each on ≥5 timed steps per size);
 * maxBatch 1024 and ×2 per change as in `noise-scale`; 10% tolerance.
 */
import { z } from 'zod';
import { definePolicy, isStepInput, type PolicyUpdate } from '../src/policy.js';
import type { StepEvent } from '../src/stream/types.js';
import { adaScaleStep, type AdaScaleState } from './adascale.js';
import { CLOCK_START, clockProgress } from './lib/clock.js';
import { NO_NOISE, smoothedNoiseScale } from './lib/gain.js';
import { clamp, fmt } from './lib/signals.js';

const options = z
  .strictObject({
    baseBatch: z.int().min(1).optional().describe('m₀, the batch the base rate is tuned for (default: the starting batch)'),
    minBatch: z.int().min(1).optional().describe('smallest batch (default: m₀)'),
    maxBatch: z.int().min(1).default(1024).describe('largest batch'),
    every: z.int().min(1).default(50).describe('steps between decisions'),
    minTimings: z.int().min(1).default(5).describe('timed steps at a batch size before it enters the throughput fit'),
    explore: z.number().gt(1).default(2).describe('with one batch size timed, try one this many times larger'),
    maxFactor: z.number().gt(1).default(2).describe('one change multiplies or divides the batch by at most this'),
    tolerance: z.number().min(0).default(0.1).describe('change only when the best batch differs by more than this fraction'),
    smoothing: z.number().min(0).lt(1).default(0.99).describe('EMA decay per base-batch step of tr(Σ) and ‖G‖²'),
    scaleLr: z.boolean().default(true).describe("scale the rate by AdaScale's gain for the batch"),
  })
  .refine((o) => o.minBatch === undefined || o.minBatch <= o.maxBatch, { message: "options 'minBatch' and 'maxBatch': minBatch must not exceed maxBatch", path: ['minBatch'] });

type GoodputOptions = z.output<typeof options>;

/** Mean step time at one batch size, and how many steps it averages (the first is skipped). */
export interface Timing {
  n: number;
  ms: number;
}

export interface GoodputState extends AdaScaleState {
  /** Batch size (as a string key) → timing. */
  timing: Record<string, Timing>;
  lastDecision: number | null;
  explored: boolean;
}

/** The step-time model T(m) = α + β·m, in ms. */
export interface StepTimeModel {
  alpha: number;
  beta: number;
}

/** Weighted least squares of the mean step times (weights: timed steps, capped at 20). */
export function fitStepTime(timing: Record<string, Timing>, minTimings: number): StepTimeModel | null {
  const pts = Object.entries(timing)
    .filter(([, t]) => t.n >= minTimings)
    .map(([m, t]) => ({ m: Number(m), t: t.ms, w: Math.min(t.n, 20) }));
  if (pts.length < 2) return null;
  const W = pts.reduce((s, p) => s + p.w, 0);
  const mx = pts.reduce((s, p) => s + p.w * p.m, 0) / W;
  const my = pts.reduce((s, p) => s + p.w * p.t, 0) / W;
  const sxx = pts.reduce((s, p) => s + p.w * (p.m - mx) ** 2, 0);
  const beta = pts.reduce((s, p) => s + p.w * (p.m - mx) * (p.t - my), 0) / sxx;
  if (!(beta > 0)) return { alpha: Math.max(0, my), beta: 0 };
  if (my - beta * mx >= 0) return { alpha: my - beta * mx, beta };
  // A negative overhead is noise: refit through the origin (pure per-example cost).
  return { alpha: 0, beta: pts.reduce((s, p) => s + p.w * p.m * p.t, 0) / pts.reduce((s, p) => s + p.w * p.m * p.m, 0) };
}

/** Goodput (examples per ms × efficiency) of batch m, for the paper's model. */
export function goodputOf(model: StepTimeModel, phi: number, m0: number, m: number): number {
  return (m / (model.alpha + model.beta * m)) * ((phi + m0) / (phi + m));
}

/** The batch maximising goodput, m* = √(αφ/β), clamped into [lo, hi]. */
export function bestBatch(model: StepTimeModel, phi: number, lo: number, hi: number): number {
  if (model.beta === 0) return hi;
  return clamp(Math.round(Math.sqrt((model.alpha * phi) / model.beta)), lo, hi);
}

function recordTiming(timing: Record<string, Timing>, e: StepEvent): Record<string, Timing> {
  const key = String(e.batchSize);
  const t = timing[key];
  if (t === undefined) return { ...timing, [key]: { n: 0, ms: 0 } };
  const n = t.n + 1;
  return { ...timing, [key]: { n, ms: t.ms + (e.stepMs - t.ms) / Math.min(n, 20) } };
}

/** The batch size decision at a step: [new batch, why] or null to hold. */
function decideBatch(h: GoodputOptions, s: GoodputState, batch: number): [number, string] | null {
  const lo = h.minBatch ?? s.baseBatch;
  const model = fitStepTime(s.timing, h.minTimings);
  if (model === null) {
    if (s.explored || (s.timing[String(batch)]?.n ?? 0) < h.minTimings) return null;
    const up = clamp(Math.round(batch * h.explore), lo, h.maxBatch);
    const target = up !== batch ? up : clamp(Math.round(batch / h.explore), lo, h.maxBatch);
    return target === batch ? null : [target, `only batch ${batch} timed: exploring throughput at batch ${target}`];
  }
  const phi = smoothedNoiseScale(s.noise);
  if (phi === null) return null;
  const best = bestBatch(model, phi, lo, h.maxBatch);
  const target = clamp(Math.round(clamp(best, batch / h.maxFactor, batch * h.maxFactor)), lo, h.maxBatch);
  if (Math.abs(target - batch) <= h.tolerance * batch) return null;
  const why = `noise scale ${fmt(phi)}, step ≈ ${fmt(model.alpha)} + ${fmt(model.beta)}·m ms: best batch ${best} (efficiency ${fmt((phi + s.baseBatch) / (phi + best))})`;
  return [target, why];
}

export const goodput = definePolicy({
  name: 'goodput',
  description: 'Pollux/AdaptDL: the batch maximising throughput × statistical efficiency, with AdaScale rate scaling.',
  source: 'Qiao et al., OSDI 2021, "Pollux: Co-adaptive Cluster Scheduling for Goodput-Optimized Deep Learning"',
  knobs: ['batchSize', 'learningRate'],
  reads: ['perExample'],
  options,
  init: (h, start): GoodputState => ({
    baseBatch: h.baseBatch ?? start.batchSize,
    baseLr: start.learningRate,
    noise: NO_NOISE,
    clock: CLOCK_START,
    timing: {},
    lastDecision: null,
    explored: false,
  }),
  update(event, state, h, knobs) {
    // Samples feed the noise estimate, epoch ends the clock; decisions happen at steps.
    if (!isStepInput(event)) return [null, { ...state, ...adaScaleStep(state, event, knobs.batchSize, h.smoothing)[1] }];
    let s: GoodputState = { ...state, timing: recordTiming(state.timing, event) };
    const due = s.lastDecision === null ? event.step + 1 >= h.every : event.step - s.lastDecision >= h.every;
    const decision = due ? decideBatch(h, s, knobs.batchSize) : null;
    if (due) s = { ...s, lastDecision: event.step, explored: s.explored || (decision !== null && fitStepTime(s.timing, h.minTimings) === null) };
    const batch = decision ? decision[0] : knobs.batchSize;
    const before = s.clock.gain;
    const [gain, after] = adaScaleStep(s, event, batch, h.smoothing);
    s = { ...s, ...after, clock: h.scaleLr ? after.clock : { ...after.clock, gain: 1 } };
    const out: PolicyUpdate = {};
    const reasons: string[] = [];
    if (decision) [out.batchSize, reasons[0]] = [batch, `${decision[1]}: batch ${knobs.batchSize} → ${batch}`];
    if (h.scaleLr && gain !== null) {
      out.learningRate = gain * s.baseLr;
      reasons.push(`AdaScale gain ${fmt(before)} → ${fmt(gain)}: lr ${fmt(knobs.learningRate)} → ${fmt(out.learningRate)}`);
    }
    return reasons.length ? [{ ...out, reason: reasons.join('; ') }, s] : [null, s];
  },
  clock: (state) => clockProgress(state.clock),
  learningRateScale: (state) => state.clock.gain,
});
