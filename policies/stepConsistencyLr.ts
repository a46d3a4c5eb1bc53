/**
 * `step-consistency-lr`: the learning rate from step-consistency alone — the thesis' test of
 * whether conditioning with respect to the weights can steer the rate (Nelson 2022, "Gradient
 * Conditioning in Deep Neural Networks", section 4.2.2). It reads only the `update` group,
 * measured on the step's own batch before and after the step, so batch-to-batch noise
 * (batch-dissonance) does not enter:
 *
 * - `descentRatio` ρ = (L − L⁺)/(−⟨h̄, Δ⟩), the actual over the first-order predicted decrease
 *   (a trust-region ratio). On a quadratic along the step, ρ = 1 − α/(2α*) with α* the exact
 *   line-search step: ρ = ½ at α*, 0 at 2α*, negative beyond.
 * - `cosSimWUpdate`: how far the gradient turned over the step.
 * - `localSmoothness` L = ‖h̄⁺ − h̄‖/‖Δ‖, the gradient's Lipschitz constant along the step.
 *   Malitsky & Mishchenko (ICML 2020, "Adaptive Gradient Descent without Descent") show that
 *   gradient descent is safe with rate ≤ ‖Δ‖/(2‖h̄⁺ − h̄‖) = 1/(2L). That is a ceiling here, in
 *   step-length form: the rate at which the step would have had gradient descent's safe length
 *   ‖h̄‖/(2L), ceiling = c · lr_t·‖h̄_t‖/(L·‖Δ_t‖) (exactly c/L for plain SGD, where ‖Δ‖ = lr‖h̄‖;
 *   for momentum it bounds the step actually taken). For adaptive optimizers (adam, rmsprop)
 *   set `optimizer: 'adaptive'`: their step is preconditioned, the bound is about another
 *   metric, and only ρ and the cosine steer.
 *
 * Rule, per sample, on EMAs of ρ, cos and the ceiling: shrink (×`decrease`) when ρ̄ < lowRatio,
 * or cos̄ < minCos (the step outran the region where the gradient is consistent), or the rate is
 * above the ceiling; grow (×`increase`, never past the ceiling) when ρ̄ > highRatio and cos̄ >
 * growCos (the step was short and the gradient barely turned). Either only after `patience`
 * consecutive samples agree, then `cooldown` samples of rest; always within [minLr, maxLr].
 *
 * Defaults: lowRatio 0.3 (a step ≈1.4× past the line minimum) and highRatio 0.9 (a step under
 * 0.2× of it); minCos 0 (the gradient reversed on its own batch: the step crossed the valley it
 * was descending; on a quadratic, past the line minimum) and growCos 0.9 (turned less than
 * ~26°). On a recorded Fashion-MNIST MLP run at sgd 0.1, cosSimWUpdate ranged −0.76 … 0.6 and the
 * ceiling 0.03–0.06: at that rate the policy shrinks, mostly by the ceiling. ×0.5 down
 * and ×1.25 up (fast retreat, slow advance); patience 3 and cooldown 3 samples — with a sample
 * every 5–20 steps a change needs 15–60 steps of agreement; EMA decay 0.5 per sample; ceiling
 * factor ½ (Malitsky & Mishchenko's); rates 1e-5 … 1, covering sgd 0.1 and adam 1e-3.
 */
import { z } from 'zod';
import { definePolicy, isMetricInput, isStepInput, type Knobs, type PolicyInput, type PolicyUpdate } from '../src/policy.js';
import { EMPTY_EMA, emaPush, emaValue, type Ema } from './lib/ema.js';
import { afterAction, extendStreak, NO_STREAK, streakFires, type Direction, type Streak } from './lib/hysteresis.js';
import { clamp, fmt, valueOf } from './lib/signals.js';

export const stepConsistencyOptions = z
  .strictObject({
    optimizer: z.enum(['sgd', 'adaptive']).default('sgd').describe("'sgd' (also momentum): apply the smoothness ceiling; 'adaptive' (adam, rmsprop): do not"),
    lowRatio: z.number().default(0.3).describe('shrink when the smoothed descentRatio is below this'),
    highRatio: z.number().default(0.9).describe('grow only when the smoothed descentRatio is above this'),
    minCos: z.number().min(-1).max(1).default(0).describe('shrink when the smoothed cosSimWUpdate is below this'),
    growCos: z.number().min(-1).max(1).default(0.9).describe('grow only when the smoothed cosSimWUpdate is above this'),
    decrease: z.number().gt(0).lt(1).default(0.5).describe('multiply the rate by this to shrink'),
    increase: z.number().gt(1).default(1.25).describe('multiply the rate by this to grow'),
    patience: z.int().min(1).default(3).describe('consecutive samples that must agree before acting'),
    cooldown: z.int().min(0).default(3).describe('samples to rest after acting'),
    smoothing: z.number().min(0).lt(1).default(0.5).describe('EMA decay per sample'),
    ceiling: z.number().min(0).default(0.5).describe('the rate stays below ceiling/L (step-length form); 0: no ceiling'),
    minLr: z.number().positive().default(1e-5).describe('lower bound on the rate'),
    maxLr: z.number().positive().default(1).describe('upper bound on the rate'),
  })
  .refine((o) => o.lowRatio < o.highRatio, { message: "options 'lowRatio' and 'highRatio': lowRatio must be below highRatio", path: ['lowRatio'] })
  .refine((o) => o.minCos <= o.growCos, { message: "options 'minCos' and 'growCos': minCos must not exceed growCos", path: ['minCos'] })
  .refine((o) => o.minLr <= o.maxLr, { message: "options 'minLr' and 'maxLr': minLr must not exceed maxLr", path: ['minLr'] });

export type StepConsistencyOptions = z.output<typeof stepConsistencyOptions>;

export interface StepConsistencyState {
  ratio: Ema;
  cos: Ema;
  /** EMA of the per-sample rate ceiling. */
  ceiling: Ema;
  streak: Streak;
  /** The last step event's numbers, to put the update sample of that step in step-length form. */
  lastStep: { step: number; gradNorm: number | null; updateNorm: number | null } | null;
}

export const STEP_CONSISTENCY_START: StepConsistencyState = { ratio: EMPTY_EMA, cos: EMPTY_EMA, ceiling: EMPTY_EMA, streak: NO_STREAK, lastStep: null };

/** This sample's rate ceiling c·lr·‖h̄‖/(L·‖Δ‖), or null (off, adaptive, or not measurable). */
function ceilingSample(h: StepConsistencyOptions, s: StepConsistencyState, step: number, lr: number, smoothness: number | null): number | null {
  if (h.optimizer !== 'sgd' || h.ceiling === 0 || smoothness === null || !(smoothness > 0)) return null;
  const last = s.lastStep;
  if (last === null || last.step !== step || !(last.gradNorm! > 0) || !(last.updateNorm! > 0)) return null;
  return (h.ceiling * lr * last.gradNorm!) / (smoothness * last.updateNorm!);
}

/** What the smoothed signals ask for: a direction and the reasons. */
function verdict(h: StepConsistencyOptions, s: StepConsistencyState, lr: number): [Direction, string[]] {
  const ratio = emaValue(s.ratio);
  const cos = emaValue(s.cos);
  const ceiling = emaValue(s.ceiling);
  const shrink: string[] = [];
  if (ratio !== null && ratio < h.lowRatio) shrink.push(`descentRatio ${fmt(ratio)} < ${h.lowRatio}`);
  if (cos !== null && cos < h.minCos) shrink.push(`cosSimWUpdate ${fmt(cos)} < ${h.minCos}`);
  if (ceiling !== null && lr > ceiling) shrink.push(`lr above the smoothness ceiling ${fmt(ceiling)}`);
  if (shrink.length) return [-1, shrink];
  if (ratio !== null && cos !== null && ratio > h.highRatio && cos > h.growCos && lr < h.maxLr && (ceiling === null || lr < ceiling)) {
    return [1, [`descentRatio ${fmt(ratio)} > ${h.highRatio} and cosSimWUpdate ${fmt(cos)} > ${h.growCos}`]];
  }
  return [0, []];
}

/** The step-consistency learning-rate reducer (shared with `conditioned`). */
export function stepConsistencyUpdate(event: PolicyInput, state: StepConsistencyState, h: StepConsistencyOptions, knobs: Knobs): [PolicyUpdate | null, StepConsistencyState] {
  if (isStepInput(event)) return [null, { ...state, lastStep: { step: event.step, gradNorm: event.gradNorm, updateNorm: event.updateNorm } }];
  if (!isMetricInput(event) || event.group !== 'update') return [null, state];
  const [ratio, cos, smooth] = ['descentRatio', 'cosSimWUpdate', 'localSmoothness'].map((n) => valueOf(event, n));
  const ceil = ceilingSample(h, state, event.step, event.learningRate, smooth);
  if (ratio === null && cos === null && ceil === null) return [null, state];
  const d = h.smoothing;
  let s: StepConsistencyState = {
    ...state,
    ratio: ratio === null ? state.ratio : emaPush(state.ratio, ratio, d),
    cos: cos === null ? state.cos : emaPush(state.cos, cos, d),
    ceiling: ceil === null ? state.ceiling : emaPush(state.ceiling, ceil, d),
  };
  const lr = knobs.learningRate;
  const [dir, why] = verdict(h, s, lr);
  s = { ...s, streak: extendStreak(s.streak, dir) };
  if (!streakFires(s.streak, h.patience)) return [null, s];
  const ceiling = emaValue(s.ceiling) ?? Number.POSITIVE_INFINITY;
  const onlyCeiling = dir < 0 && why.length === 1 && why[0].startsWith('lr above');
  const raw = dir < 0 ? (onlyCeiling ? Math.max(lr * h.decrease, ceiling) : lr * h.decrease) : Math.min(lr * h.increase, ceiling);
  const target = clamp(raw, h.minLr, h.maxLr);
  if (target === lr) return [null, s];
  const reason = `${why.join(', ')} for ${s.streak.count} samples: lr ${fmt(lr)} → ${fmt(target)}`;
  return [{ learningRate: target, reason }, { ...s, streak: afterAction(h.cooldown) }];
}

export const stepConsistencyLr = definePolicy({
  name: 'step-consistency-lr',
  description: 'The learning rate from same-batch weight conditioning only (descentRatio, cosSimWUpdate, a smoothness ceiling).',
  source: 'Nelson 2022, thesis section 4.2.2; ceiling: Malitsky & Mishchenko, ICML 2020',
  knobs: ['learningRate'],
  reads: ['update'],
  options: stepConsistencyOptions,
  init: () => STEP_CONSISTENCY_START,
  update: (event, state, h, knobs) => stepConsistencyUpdate(event, state, h, knobs),
});
