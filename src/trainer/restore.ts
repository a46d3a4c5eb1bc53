/**
 * Restore or init: where a run starts. A resumed run starts from its checkpoint (checked against
 * this run's seed, data and policy, then loaded into the model and the inner optimizer); any
 * other run starts at step 0 with the given knobs and the policy's initial state.
 */
import type { tf } from '../backend/tf.js';
import type { Dataset } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import type { Knobs } from '../policy.js';
import { readCheckpoint, restoreModel, restoreOptimizer, type Checkpoint, type LoopState } from './checkpoint.js';

/** The loop's starting state; `policyState` is absent for a fresh run (the policy's init). */
export type LoopStart = Omit<LoopState, 'policyState'> & { policyState?: LoopState['policyState'] };

export interface RestoreArgs {
  /** The run directory to resume from; undefined for a fresh run. */
  resumeFrom?: string;
  model: tf.LayersModel;
  /** The inner (wrapped) optimizer, fresh: its state is loaded from the checkpoint. */
  optimizer: tf.Optimizer;
  seed: number;
  data: Dataset;
  policyName: string;
  knobs: Knobs;
}

/** A UsageError when the checkpoint was written by a different run setup. */
function checkSameRun(ckpt: Checkpoint, a: RestoreArgs): void {
  const s = ckpt.state;
  if (s.rng.seed !== a.seed) throw new UsageError(`the checkpoint was written with seed ${s.rng.seed}, not ${a.seed}`);
  if (s.dataSize !== a.data.size) throw new UsageError(`the checkpoint was written for ${s.dataSize} examples, not ${a.data.size}`);
  if (s.policy !== a.policyName) throw new UsageError(`the checkpoint was written with policy '${s.policy}', not '${a.policyName}'`);
}

/** The loop's start and, for a resume, the step of the checkpoint. */
export async function restoreOrInit(a: RestoreArgs): Promise<{ start: LoopStart; resumedFrom: number | null }> {
  if (a.resumeFrom === undefined) {
    return { start: { step: 0, epoch: 0, position: 0, knobs: { ...a.knobs }, lossSum: 0, examples: 0, correct: 0 }, resumedFrom: null };
  }
  const ckpt = readCheckpoint(a.resumeFrom);
  if (ckpt === null) throw new UsageError(`nothing to resume: ${a.resumeFrom} has no checkpoint`);
  checkSameRun(ckpt, a);
  try {
    await restoreModel(ckpt, a.model);
    await restoreOptimizer(ckpt, a.optimizer);
  } catch (err) {
    throw new UsageError(`cannot resume from ${ckpt.dir}: ${(err as Error).message}`);
  }
  const { format: _f, rng: _r, dataSize: _d, policy: _p, optimizer: _o, savedAt: _s, ...state } = ckpt.state;
  return { start: { ...state, knobs: { ...state.knobs } }, resumedFrom: state.step };
}
