/**
 * Bench rows: a training step through the conditioned wrapper with only its free per-step
 * numbers, computed every step (the default) and every 10th step (`stepMetrics: 10`).
 */
import { tf } from '../backend/tf.js';
import { perExampleLoss } from '../engine/losses.js';
import { conditioned } from '../optimizer/conditioned.js';
import type { BenchCase } from './bench.js';
import { now, timeIt } from './timing.js';
import { trainStep } from './trainStep.js';

const EVERY = [1, 10];

export const wrapperStepCase: BenchCase = async (ctx) => {
  const loss = perExampleLoss('categoricalCrossentropy');
  const rows = [];
  for (const k of EVERY) {
    const opt = conditioned(tf.train.sgd(0.01), { groups: 'none', stepMetrics: k });
    const step = () => trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
    const first = now();
    step();
    const slow = now() - first > 2000;
    // Each timing is a whole cycle of k steps (one with the numbers, k − 1 without), per step.
    const cycle = () => {
      for (let i = 0; i < k; i++) step();
    };
    const { ms } = await timeIt(cycle, slow ? { warmup: 0, runs: 1 } : { warmup: 1, runs: ctx.runs });
    opt.dispose();
    rows.push({
      what: k === 1 ? 'train step, conditioned wrapper (loss, norms, kappaWStep)' : `train step, conditioned wrapper, per-step numbers every ${k} steps (stepMetrics: ${k})`,
      ms: ms / k,
      ...(k === 1 ? {} : { note: `mean step over cycles of ${k}` }),
    });
  }
  return rows;
};
