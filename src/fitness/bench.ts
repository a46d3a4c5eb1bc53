/**
 * What a fitness score costs, as a multiple of one ordinary training step (forward, backward,
 * SGD update) on the same model and one scoring batch: the number that says how many candidates
 * a search can afford. Steps and scores alternate, and the cost is the median of the per-round
 * ratios, so that a machine whose speed drifts (shared cores) moves both sides of each ratio
 * together (as the proxies' `proxyCosts`).
 */
import { tf } from '../backend/tf.js';
import { median } from '../bench/timing.js';
import { trainStep } from '../bench/trainStep.js';
import { perExampleLoss } from '../engine/losses.js';
import type { ScoringBatch } from './batches.js';
import { DEFAULT_RULE } from './defaultRule.js';
import { measureFitnessMetrics } from './metrics.js';
import { type FitnessRule, applyRule, ruleMetrics } from './rule.js';

export interface FitnessCost {
  /** Median wall time of one training step on batch 0, in milliseconds. */
  stepMs: number;
  /** Median wall time of one score (all its metrics), in milliseconds. */
  scoreMs: number;
  /** Median over rounds of score time / step time. */
  steps: number;
}

export function fitnessCost(model: tf.LayersModel, batches: readonly ScoringBatch[], { rounds = 5, warmup = 1, rule = DEFAULT_RULE as FitnessRule } = {}): FitnessCost {
  const loss = perExampleLoss('categoricalCrossentropy');
  const optimizer = tf.train.sgd(0.01);
  const weights = model.weights.map((w) => w.read() as tf.Variable);
  const saved = weights.map((w) => w.clone());
  const steps: number[] = [];
  const scores: number[] = [];
  const metrics = ruleMetrics(rule);
  for (let r = 0; r < warmup + rounds; r++) {
    let t0 = performance.now();
    trainStep(model, optimizer, loss, batches[0]!.x, batches[0]!.y);
    const step = performance.now() - t0;
    weights.forEach((w, i) => w.assign(saved[i]!)); // score the model as given
    t0 = performance.now();
    applyRule(rule, measureFitnessMetrics(model, batches, { loss, metrics }));
    const score = performance.now() - t0;
    if (r >= warmup) {
      steps.push(step);
      scores.push(score);
    }
  }
  tf.dispose(saved);
  optimizer.dispose();
  return { stepMs: median(steps), scoreMs: median(scores), steps: median(scores.map((s, i) => s / steps[i]!)) };
}
