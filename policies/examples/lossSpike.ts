import { z } from 'zod';
import { definePolicy, isStepInput } from '../../src/policy.js';

/** Halves the learning rate when a step's loss jumps above `ratio` × its running average. */
export const lossSpike = definePolicy({
  name: 'loss-spike',
  description: 'Halves the learning rate when the loss jumps above `ratio` × its running average.',
  source: 'worked example (docs/policies.md)',
  knobs: ['learningRate'],
  reads: [], // the loss is on every step event: no metric group needed
  options: z.strictObject({
    ratio: z.number().gt(1).default(2).describe('a spike is a loss above ratio × the average'),
    decay: z.number().min(0).lt(1).default(0.9).describe('EMA decay of the loss per step'),
  }),
  init: () => ({ avg: null as number | null }),
  update(event, state, h, knobs) {
    if (!isStepInput(event) || event.loss === null) return [null, state];
    const avg = state.avg === null ? event.loss : h.decay * state.avg + (1 - h.decay) * event.loss;
    if (state.avg === null || event.loss <= h.ratio * state.avg) return [null, { avg }];
    const lr = knobs.learningRate / 2;
    return [{ learningRate: lr, reason: `loss ${event.loss} > ${h.ratio} × ${state.avg}: lr ${knobs.learningRate} → ${lr}` }, { avg }];
  },
});
