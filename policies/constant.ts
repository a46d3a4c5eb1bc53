/** `constant`: changes nothing. The baseline every comparison runs against. */
import { z } from 'zod';
import { definePolicy } from '../src/policy.js';

export const constant = definePolicy({
  name: 'constant',
  description: 'Changes nothing: the learning rate and batch size stay as they start.',
  source: 'baseline (no adaptation)',
  knobs: [],
  reads: [],
  options: z.strictObject({}),
  init: () => null,
  update: (_event, state) => [null, state],
});
