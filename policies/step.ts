/**
 * `step`: the step-decay schedule: the learning rate is multiplied by `factor` every `every`
 * epochs (or steps), lr(p) = lr₀ · factor^⌊p / every⌋ with p the progress in `unit`s (Keras'
 * `LearningRateScheduler` with a step function, PyTorch's `StepLR`).
 *
 * A schedule is a function of progress, so composed after a clock keeper (`adascale+step`) it
 * counts scale-invariant epochs or steps.
 *
 * Defaults: halve every epoch. Runs here are a few epochs of Fashion-MNIST; a ×0.5 step per
 * epoch anneals 0.1 to 0.0125 over four epochs, the range that helps such runs.
 */
import { z } from 'zod';
import { definePolicy, isEpochInput, isStepInput, progressOf } from '../src/policy.js';
import { fmt } from './lib/signals.js';

const options = z.strictObject({
  factor: z.number().positive().default(0.5).describe('multiply the learning rate by this at every boundary'),
  every: z.int().min(1).default(1).describe('boundaries every this many units'),
  unit: z.enum(['epoch', 'step']).default('epoch').describe('count epochs (changes at epoch ends) or steps'),
});

export interface StepScheduleState {
  /** The rate at progress 0. */
  lr0: number;
  /** The number of boundaries passed so far. */
  passed: number;
}

export const step = definePolicy({
  name: 'step',
  description: 'Multiplies the learning rate by `factor` every `every` epochs or steps.',
  source: 'step decay (Keras LearningRateScheduler / PyTorch StepLR)',
  knobs: ['learningRate'],
  reads: [],
  options,
  init: (_h, start): StepScheduleState => ({ lr0: start.learningRate, passed: 0 }),
  update(event, state, h, knobs, ctx) {
    const due = h.unit === 'epoch' ? isEpochInput(event) : isStepInput(event);
    if (!due) return [null, state];
    const p = progressOf(event, ctx);
    const passed = Math.floor((h.unit === 'epoch' ? p.epochs : p.steps) / h.every);
    if (passed === state.passed) return [null, state];
    const lr = state.lr0 * h.factor ** passed;
    const reason = `${fmt(h.unit === 'epoch' ? p.epochs : p.steps)} ${h.unit}s done (${passed} × ${h.every}): lr ${fmt(knobs.learningRate)} → ${fmt(lr)}`;
    return [{ learningRate: lr, reason }, { ...state, passed }];
  },
});
