/**
 * `hypergradient`: hypergradient descent on the learning rate (Baydin, Cornish, Martínez Rubio,
 * Schmidt & Wood, ICLR 2018, "Online Learning Rate Adaptation with Hypergradient Descent").
 *
 * The paper writes an optimizer step as θ_t = θ_{t−1} + u(Θ_{t−1}, α_t) and descends on
 * ∂f(θ_{t−1})/∂α = ∇f(θ_{t−1}) · ∇_α u(Θ_{t−2}, α_{t−1}). Every update here is linear in the
 * rate, Δ_{t−1} = −α_{t−1}·u_{t−1}, with u_{t−1} the previous step's direction: the gradient for
 * SGD (SGD-HD), the momentum buffer for momentum (the authors' SGDN-HD code uses the buffer), and
 * m̂/(√v̂ + ε) for Adam (Adam-HD). So one rule covers all of them:
 *
 *     ⟨∇f(θ_t), u_{t−1}⟩ = −⟨h̄_t, Δ_{t−1}⟩ / α_{t−1} = −gradDotPrevUpdate / learningRate_{t−1}
 *
 * - additive (the paper's rule): α ← α + β · ⟨∇f(θ_t), u_{t−1}⟩ (for SGD, + β·∇f_t·∇f_{t−1}:
 *   exactly SGD-HD; for Adam, + β·∇f_t·m̂/(√v̂+ε): exactly Adam-HD);
 * - multiplicative (the paper's normalised variant): α ← α · (1 + β · cos(∇f(θ_t), u_{t−1})),
 *   with cos = −gradDotPrevUpdate / (‖h̄_t‖ · ‖Δ_{t−1}‖): β is then a relative step, the same
 *   for every optimizer and scale.
 *
 * Runs on every step from the free step signals. One step later than the paper: the dot
 * product of step t is known only after step t, so it sets the rate of step t + 1. The rate is
 * kept in [minLr, maxLr].
 *
 * Defaults: β as in the paper's experiments and the authors' code: 1e-3 for SGD (additive),
 * 1e-7 for Adam, whose direction is ~1 per coordinate so ⟨∇f, u⟩ is far larger; 0.02 for the
 * multiplicative form (our choice: at most ±2% per step). Bounds 1e-6 … 1 cover sgd 0.1 and
 * adam 1e-3 with room both ways.
 */
import { z } from 'zod';
import { definePolicy, isStepInput } from '../src/policy.js';
import { clamp, fmt } from './lib/signals.js';

const options = z
  .strictObject({
    form: z.enum(['additive', 'multiplicative']).default('additive').describe('the additive rule or the normalised multiplicative one'),
    optimizer: z.enum(['sgd', 'adam']).default('sgd').describe("the optimizer family, for beta's default (the rule is the same)"),
    beta: z.number().positive().optional().describe('hypergradient rate (default: 1e-3 sgd, 1e-7 adam; 0.02 multiplicative)'),
    minLr: z.number().positive().default(1e-6).describe('lower bound on the learning rate'),
    maxLr: z.number().positive().default(1).describe('upper bound on the learning rate'),
  })
  .refine((o) => o.minLr <= o.maxLr, { message: "options 'minLr' and 'maxLr': minLr must not exceed maxLr", path: ['minLr'] });

type HypergradientOptions = z.output<typeof options>;

export interface HypergradientState {
  /** The rate and update norm of the previous step (null before the first). */
  prev: { learningRate: number; updateNorm: number | null } | null;
}

/** β in force: the option, or the paper's value for the form and optimizer. */
export function hypergradientBeta(h: HypergradientOptions): number {
  if (h.beta !== undefined) return h.beta;
  if (h.form === 'multiplicative') return 0.02;
  return h.optimizer === 'adam' ? 1e-7 : 1e-3;
}

export const hypergradient = definePolicy({
  name: 'hypergradient',
  description: 'Hypergradient descent on the rate: α ← α + β⟨∇f_t, u_{t−1}⟩ (additive) or α(1 + β cos) (multiplicative).',
  source: 'Baydin et al., ICLR 2018, "Online Learning Rate Adaptation with Hypergradient Descent"',
  knobs: ['learningRate'],
  reads: [],
  options,
  init: (): HypergradientState => ({ prev: null }),
  update(event, state, h, knobs) {
    if (!isStepInput(event)) return [null, state];
    const next: HypergradientState = { prev: { learningRate: event.learningRate, updateNorm: event.updateNorm } };
    const dot = event.gradDotPrevUpdate;
    const prev = state.prev;
    if (prev === null || dot === null || !(prev.learningRate > 0)) return [null, next];
    const beta = hypergradientBeta(h);
    let lr: number;
    let signal: string;
    if (h.form === 'additive') {
      const hyper = -dot / prev.learningRate; // ⟨∇f(θ_t), u_{t−1}⟩
      lr = knobs.learningRate + beta * hyper;
      signal = `⟨∇f_t, u_t−1⟩ ${fmt(hyper)}`;
    } else {
      if (event.gradNorm === null || prev.updateNorm === null || !(event.gradNorm > 0 && prev.updateNorm > 0)) return [null, next];
      const cos = -dot / (event.gradNorm * prev.updateNorm);
      lr = knobs.learningRate * (1 + beta * cos);
      signal = `cos(∇f_t, u_t−1) ${fmt(cos)}`;
    }
    if (!Number.isFinite(lr)) return [null, next];
    lr = clamp(lr, h.minLr, h.maxLr);
    if (lr === knobs.learningRate) return [null, next];
    return [{ learningRate: lr, reason: `hypergradient ${signal}: lr ${fmt(knobs.learningRate)} → ${fmt(lr)} (${lr > knobs.learningRate ? '+' : '−'}${fmt(Math.abs(lr - knobs.learningRate))})` }, next];
  },
});
