/**
 * `cosine`: linear warm-up, then cosine annealing from the starting rate to `minLr` (Loshchilov &
 * Hutter, ICLR 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts", without restarts;
 * warm-up as in Goyal et al. 2017, "Accurate, Large Minibatch SGD").
 *
 * With unit 'step' and p steps done: lr = lr₀·(p+1)/warmup while p < warmup (so no step runs at
 * rate 0), then lr = minLr + (lr₀ − minLr)·(1 + cos(π·q))/2 with q = (p − warmup)/(total −
 * warmup), held at minLr once q ≥ 1. With unit 'epoch', q = epochs/total (the rate changes at
 * epoch ends) and the warm-up, still in steps, multiplies it. The rate for the first step comes
 * from `initialUpdate`.
 *
 * A schedule is a function of progress: composed after a clock keeper (`adascale+cosine`) it
 * reads scale-invariant steps τ and epochs.
 *
 * Defaults: no warm-up (SGDR's default) and an end rate of 1e-5 rather than SGDR's 0, because a
 * rate of 0 trains nothing and the trainer refuses it; 1e-5 is 1% of adam's 1e-3 and 0.01% of
 * sgd's 0.1. `total` has no default because a policy is not told how long the run is.
 */
import { z } from 'zod';
import { definePolicy, isEpochInput, isStepInput, progressOf, type Progress } from '../src/policy.js';
import { fmt } from './lib/signals.js';

const options = z
  .strictObject({
    total: z.number().positive().describe('length of the schedule in units (required: the run length)'),
    unit: z.enum(['step', 'epoch']).default('step').describe('what total counts'),
    warmup: z.int().min(0).default(0).describe('steps of linear warm-up before the cosine'),
    minLr: z.number().positive().default(1e-5).describe('the rate at the end of the cosine (positive: a rate of 0 trains nothing)'),
  })
  .refine((o) => o.unit !== 'step' || o.warmup < o.total, { message: "options 'warmup' and 'total': the warm-up must be shorter than total", path: ['warmup'] });

type CosineOptions = z.output<typeof options>;

export interface CosineState {
  lr0: number;
  /** The rate last set. */
  last: number;
  /** Epochs completed (the default clock's count, from epoch ends). */
  epochs: number;
}

/** The scheduled rate at `p` (steps and epochs done) for a start rate `lr0`. */
export function cosineRate(h: CosineOptions, lr0: number, p: Progress): number {
  const warm = h.warmup > 0 && p.steps < h.warmup ? (p.steps + 1) / h.warmup : 1;
  if (h.unit === 'step' && warm < 1) return lr0 * warm;
  const q = Math.min(1, Math.max(0, h.unit === 'step' ? (p.steps - h.warmup) / (h.total - h.warmup) : p.epochs / h.total));
  const annealed = h.minLr + ((lr0 - h.minLr) * (1 + Math.cos(Math.PI * q))) / 2;
  return annealed * (h.unit === 'epoch' ? warm : 1);
}

export const cosine = definePolicy({
  name: 'cosine',
  description: 'Linear warm-up over `warmup` steps, then cosine from the start rate to `minLr` over `total` steps or epochs.',
  source: 'Loshchilov & Hutter, ICLR 2017 (SGDR); warm-up: Goyal et al. 2017',
  knobs: ['learningRate'],
  reads: [],
  options,
  init: (h, start): CosineState => ({ lr0: start.learningRate, last: cosineRate(h, start.learningRate, { steps: 0, epochs: 0 }), epochs: 0 }),
  initialUpdate(h, start) {
    const lr = cosineRate(h, start.learningRate, { steps: 0, epochs: 0 });
    return lr === start.learningRate ? null : { learningRate: lr, reason: `cosine warm-up: first step at lr ${fmt(lr)}` };
  },
  update(event, state, h, knobs, ctx) {
    if (!isStepInput(event) && !isEpochInput(event)) return [null, state];
    const epochs = isEpochInput(event) ? event.epoch : state.epochs;
    const p = { steps: progressOf(event, ctx).steps, epochs: ctx ? ctx.progress.epochs : epochs };
    const lr = cosineRate(h, state.lr0, p);
    const next = { ...state, epochs, last: lr };
    if (lr === state.last) return [null, next];
    const at = h.unit === 'step' ? `${fmt(p.steps)} of ${h.total} steps` : `${fmt(p.epochs)} of ${h.total} epochs`;
    return [{ learningRate: lr, reason: `cosine at ${at}: lr ${fmt(knobs.learningRate)} → ${fmt(lr)}` }, next];
  },
});
