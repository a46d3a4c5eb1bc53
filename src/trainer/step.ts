/**
 * One optimizer step of the trainer, as a function that returns what it measured: the step
 * event, the metric samples due at that step, the policy decisions they caused, and how many of
 * the batch's examples the model classified correctly (from the same forward pass: no extra cost
 * but one scalar read back).
 */
import { type Observable, merge } from 'rxjs';
import { tf } from '../backend/tf.js';
import { batchLoss, type PerExampleLoss } from '../engine/losses.js';
import { NonFiniteStep } from '../errors.js';
import type { ConditionedOptimizer } from '../optimizer/conditioned.js';
import type { MetricSample, PolicyDecision, StepEvent } from '../stream/types.js';
import { countCorrect } from './evaluate.js';

/** What the conditioned optimizer publishes while it works: on its streams, synchronously. */
export interface Published {
  events: StepEvent[];
  samples: MetricSample[];
  decisions: PolicyDecision[];
}

export interface StepOutcome {
  event: StepEvent;
  samples: MetricSample[];
  /** Decisions of the optimizer's policy on this step's event and samples (already in force). */
  decisions: PolicyDecision[];
  /**
   * Examples of the batch whose arg-max prediction matched the target, from the training forward
   * pass (weights before the update, training mode: as Keras' fit reports its accuracy).
   */
  correct: number;
  /** The optimizer refused the step (non-finite loss, gradient or update) and undid it. */
  refused: NonFiniteStep | null;
}

/**
 * What `run` made `opt` publish. The wrapper publishes its step event, samples and policy
 * decisions only on its streams, synchronously inside `minimize` (or `endEpoch`): listening
 * around the one call turns them into a return value.
 */
export function publishedBy(opt: ConditionedOptimizer, run: () => void): Published {
  const out: Published = { events: [], samples: [], decisions: [] };
  const all = merge(opt.steps$, opt.metrics$, opt.decisions$) as Observable<StepEvent | MetricSample | PolicyDecision>;
  const sub = all.subscribe((r) => {
    if ('group' in r) out.samples.push(r);
    else if ('policy' in r) out.decisions.push(r);
    else out.events.push(r);
  });
  try {
    run();
  } finally {
    sub.unsubscribe();
  }
  return out;
}

/** One step on the batch (x, y): forward, backward, update, measurements. The caller disposes x and y. */
export function trainStep(opt: ConditionedOptimizer, model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, varList: tf.Variable[]): StepOutcome {
  let correct: tf.Scalar | null = null;
  let refused: NonFiniteStep | null = null;
  const objective = () => {
    const p = model.apply(x, { training: true }) as tf.Tensor;
    correct = tf.keep(countCorrect(y, p)); // off the loss's path: no gradient flows through it
    return batchLoss(loss, y, p);
  };
  try {
    const { events, samples, decisions } = publishedBy(opt, () => {
      opt.setBatch(x, y);
      try {
        opt.minimize(objective, false, varList);
      } catch (err) {
        if (!(err instanceof NonFiniteStep)) throw err;
        refused = err;
      }
    });
    if (events.length !== 1) throw new Error(`the optimizer published ${events.length} step events for one step`);
    const kept = correct as tf.Scalar | null;
    return { event: events[0]!, samples, decisions, correct: kept && !refused ? kept.dataSync()[0]! : 0, refused };
  } finally {
    (correct as tf.Scalar | null)?.dispose();
  }
}
