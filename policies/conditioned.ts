/**
 * `conditioned`: both knobs at once, each driven by its own family of gradient conditioning and
 * neither by the other — the thesis' objective 4, reducing the two sources of gradient variance
 * independently (Nelson 2022, "Gradient Conditioning in Deep Neural Networks", sections 1.1 and
 * 4.2.2). The learning rate follows `step-consistency-lr` on the `update` group alone (measured
 * on one batch, so the batch size does not enter it); the batch size follows
 * `batch-dissonance-batch` on the `perExample` and `multiBatch` groups alone. The learning-rate
 * half never reads a batch-size signal nor the batch size itself, and the batch half never
 * reads the rate: the test suite checks that changing the batch alone leaves every rate
 * decision as it was.
 *
 * Options: `lr.*` are step-consistency-lr's, `batch.*` batch-dissonance-batch's, with their
 * defaults (e.g. `lr.patience=2 batch.maxBatch=512`).
 */
import { z } from 'zod';
import { definePolicy, type PolicyUpdate } from '../src/policy.js';
import { DISSONANCE_START, dissonanceOptions, dissonanceUpdate, type DissonanceState } from './batchDissonanceBatch.js';
import { STEP_CONSISTENCY_START, stepConsistencyOptions, stepConsistencyUpdate, type StepConsistencyState } from './stepConsistencyLr.js';

const options = z.strictObject({
  lr: stepConsistencyOptions.default(stepConsistencyOptions.parse({})).describe("step-consistency-lr's options for the rate"),
  batch: dissonanceOptions.default(dissonanceOptions.parse({})).describe("batch-dissonance-batch's options for the batch size"),
});

export interface ConditionedState {
  lr: StepConsistencyState;
  batch: DissonanceState;
}

export const conditioned = definePolicy({
  name: 'conditioned',
  description: 'Rate from step-consistency (update group) and batch size from batch-dissonance (perExample, multiBatch), independently.',
  source: 'Nelson 2022, thesis objective 4 and section 4.2.2',
  knobs: ['learningRate', 'batchSize'],
  reads: ['update', 'perExample', 'multiBatch'],
  options,
  init: (): ConditionedState => ({ lr: STEP_CONSISTENCY_START, batch: DISSONANCE_START }),
  update(event, state, h, knobs) {
    const [lrUpdate, lr] = stepConsistencyUpdate(event, state.lr, h.lr, knobs);
    const [batchUpdate, batch] = dissonanceUpdate(event, state.batch, h.batch, knobs);
    const next = { lr, batch };
    if (lrUpdate === null && batchUpdate === null) return [null, next];
    const reason = [lrUpdate?.reason, batchUpdate?.reason].filter((r) => r !== undefined).join('; ');
    const out: PolicyUpdate = { ...(lrUpdate?.learningRate !== undefined ? { learningRate: lrUpdate.learningRate } : {}), ...(batchUpdate?.batchSize !== undefined ? { batchSize: batchUpdate.batchSize } : {}), reason };
    return [out, next];
  },
});
