/**
 * `divebatch`: DiveBatch (Chen, Wang & Sundaram 2025, "DiveBatch: Accelerating Model Training
 * Through Gradient-Diversity Aware Batch Size Adaptation", arXiv 2509.16173): the batch grows
 * with the gradient diversity of Yin et al. (AISTATS 2018, "Gradient Diversity: a Key Ingredient
 * for Scalable Distributed Learning"), Δ_D = Σ_i ‖∇f_i‖² / ‖Σ_i ∇f_i‖² over the n examples of
 * the data set, whose convergence analysis allows batches up to about δ·n·Δ_D.
 *
 * Source of the rule. The paper's full text was not readable here (only its abstract); the rule
 * below is the first author's public training code (github.com/chenyuen0103/pytorch-cifar,
 * src/main_cifar10.py and src/train_utils.py): every `every` epochs,
 *     b ← min(max(δ · n · Δ_D, b), maxBatch)       (the batch never shrinks)
 * and, with the learning-rate rescaling the paper pairs with it (`--adaptive_lr`),
 *     lr ← lr · b_new / b_old.
 * That code accumulates Δ_D over the epoch's per-example gradients (BackPACK's BatchL2Grad and
 * the sum of the batch gradients).
 *
 * The estimate here. n·Δ_D = mean_i ‖h_i‖² / ‖mean_i h_i‖² = (tr Σ + ‖G‖²)/‖G‖² = 1 + B_simple:
 * the data-set diversity, from the per-example statistics of each `perExample` sample
 * (`traceSigma`, `gradSqEstimate`), averaged over the samples since the last decision (the
 * paper's per-epoch accumulation). Relation to gradcond's metrics: over one batch of b examples,
 * Yin's diversity is Δ_b = Σ‖h_i‖²/‖Σ h_i‖² = 1/(b · coherence), so `coherence` is the batch's
 * own (biased, b-dependent) diversity; the `multiBatch` metric `diversity` is Yin's diversity
 * with sub-batch gradients in place of examples. Both are relative to their own sample; the
 * rule needs the data-set value, which 1 + tr Σ/‖G‖² estimates without bias in its parts.
 * When ‖G‖² is estimated ≤ 0 the diversity is unbounded and, as in the authors' code (NaN/inf
 * → maxBatch), the batch goes to maxBatch.
 *
 * Defaults: δ = 0.1, maxBatch 2048 and the rate rescaling on, as in the authors' CIFAR
 * configuration (exp_config_divebatch.json); a decision every epoch instead of every 5–20
 * because runs here last a few epochs.

 *
 * The scaled rate never exceeds `maxLr` (default 1): on a recorded Fashion-MNIST MLP run the
 * rule took the batch from 64 to 771 in one decision, which would take sgd's 0.1 to 1.2; the
 * reason says when the cap binds.
 */
import { z } from 'zod';
import { definePolicy, isEpochInput, isMetricInput, isStepInput, type PolicyInput } from '../src/policy.js';
import { clamp, fmt, scaleRate, valueOf } from './lib/signals.js';

const options = z.strictObject({
  delta: z.number().positive().default(0.1).describe('δ in b = δ·n·Δ_D'),
  every: z.int().min(1).default(1).describe('decide every this many units'),
  unit: z.enum(['epoch', 'step']).default('epoch').describe('count epochs (decide at epoch ends) or steps'),
  maxBatch: z.int().min(1).default(2048).describe('largest batch'),
  scaleLr: z.boolean().default(true).describe('rescale the rate by b_new/b_old (linear scaling)'),
  maxLr: z.number().positive().default(1).describe('the scaled rate never exceeds this'),
});

type DiveBatchOptions = z.output<typeof options>;

export interface DiveBatchState {
  /** Sums over the samples since the last decision. */
  trace: number;
  gradSq: number;
  samples: number;
}

const EMPTY: DiveBatchState = { trace: 0, gradSq: 0, samples: 0 };

/** n·Δ_D from the window's means: 1 + tr Σ/‖G‖², or null when ‖G‖² ≤ 0 (unbounded). */
export function datasetDiversity(s: DiveBatchState): number | null {
  if (!(s.gradSq > 0)) return null;
  return 1 + Math.max(0, s.trace) / s.gradSq;
}

function decisionDue(h: DiveBatchOptions, e: PolicyInput): boolean {
  if (h.unit === 'epoch') return isEpochInput(e) && e.epoch % h.every === 0;
  return isStepInput(e) && (e.step + 1) % h.every === 0;
}

export const divebatch = definePolicy({
  name: 'divebatch',
  description: 'DiveBatch: every `every` epochs the batch grows to δ·n·Δ_D (gradient diversity), the rate scaled with it.',
  source: 'Chen, Wang & Sundaram 2025, arXiv 2509.16173 (rule from the authors\' public code); Yin et al., AISTATS 2018',
  knobs: ['batchSize', 'learningRate'],
  reads: ['perExample'],
  options,
  init: (): DiveBatchState => EMPTY,
  update(event, state, h, knobs) {
    if (isMetricInput(event)) {
      const trace = valueOf(event, 'traceSigma');
      const gradSq = valueOf(event, 'gradSqEstimate');
      if (event.group !== 'perExample' || trace === null || gradSq === null) return [null, state];
      return [null, { trace: state.trace + trace, gradSq: state.gradSq + gradSq, samples: state.samples + 1 }];
    }
    if (!decisionDue(h, event) || state.samples === 0) return [null, state];
    const diversity = datasetDiversity(state);
    const b = knobs.batchSize;
    const wanted = diversity === null ? h.maxBatch : Math.round(h.delta * diversity);
    const next = clamp(Math.max(wanted, b), 1, Math.max(b, h.maxBatch));
    if (next === b) return [null, EMPTY];
    const seen = diversity === null ? 'diversity unbounded (‖G‖² ≤ 0)' : `n·Δ_D ${fmt(diversity)}, δ·n·Δ_D ${fmt(h.delta * diversity)}`;
    const rate = h.scaleLr ? scaleRate(knobs.learningRate, next / b, h.maxLr) : null;
    const reason = `${seen} over ${state.samples} samples: batch ${b} → ${next}${rate ? `, ${rate.text}` : ''}`;
    return [{ batchSize: next, ...(rate ? { learningRate: rate.lr } : {}), reason }, EMPTY];
  },
});
