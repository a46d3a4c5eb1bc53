/**
 * `adabatch`: AdaBatch (Devarakonda, Naumov & Garland 2017, "AdaBatch: Adaptive Batch Sizes for
 * Training Deep Neural Networks"): the schedule baseline for batch growth. Every `every` epochs
 * (or steps) the batch is multiplied by `factor`, up to `maxBatch`, and with `scaleLr` the rate
 * by the factor actually applied (the linear scaling that keeps lr/batch, the noise temperature
 * of SGD, unchanged across the switch).
 *
 * Defaults: doubling, as the paper does; every epoch rather than the paper's 20 (its CIFAR runs
 * last 100 epochs, runs here a few); maxBatch 1024; rate scaling on.

 *
 * The scaled rate never exceeds `maxLr`: linear scaling far past the tuned rate needs a warm-up
 * (Goyal et al. 2017) that this baseline does not do; the reason says when the cap binds.
 */
import { z } from 'zod';
import { definePolicy, isEpochInput, isStepInput, progressOf } from '../src/policy.js';
import { scaleRate } from './lib/signals.js';

const options = z.strictObject({
  factor: z.int().min(2).default(2).describe('multiply the batch by this at every boundary'),
  every: z.int().min(1).default(1).describe('boundaries every this many units'),
  unit: z.enum(['epoch', 'step']).default('epoch').describe('count epochs (changes at epoch ends) or steps'),
  maxBatch: z.int().min(1).default(1024).describe('largest batch'),
  scaleLr: z.boolean().default(true).describe('multiply the rate by the same factor'),
  maxLr: z.number().positive().default(1).describe('the scaled rate never exceeds this'),
});

export interface AdaBatchState {
  /** Boundaries passed so far. */
  passed: number;
}

export const adabatch = definePolicy({
  name: 'adabatch',
  description: 'AdaBatch: multiply the batch (and the rate) by `factor` every `every` epochs or steps, up to maxBatch.',
  source: 'Devarakonda, Naumov & Garland 2017, "AdaBatch: Adaptive Batch Sizes for Training Deep Neural Networks"',
  knobs: ['batchSize', 'learningRate'],
  reads: [],
  options,
  init: (): AdaBatchState => ({ passed: 0 }),
  update(event, state, h, knobs, ctx) {
    const due = h.unit === 'epoch' ? isEpochInput(event) : isStepInput(event);
    if (!due) return [null, state];
    const p = progressOf(event, ctx);
    const passed = Math.floor((h.unit === 'epoch' ? p.epochs : p.steps) / h.every);
    if (passed <= state.passed) return [null, state];
    const b = knobs.batchSize;
    const next = Math.min(h.maxBatch, b * h.factor ** (passed - state.passed));
    if (next <= b) return [null, { passed }];
    const rate = h.scaleLr ? scaleRate(knobs.learningRate, next / b, h.maxLr) : null;
    const reason = `${passed} × ${h.every} ${h.unit}s: batch ${b} → ${next}${rate ? `, ${rate.text}` : ''}`;
    return [{ batchSize: next, ...(rate ? { learningRate: rate.lr } : {}), reason }, { passed }];
  },
});
