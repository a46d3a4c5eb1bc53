/** Bench row: a training step through the conditioned wrapper with only its free per-step metrics. */
import { tf } from '../backend/tf.js';
import { perExampleLoss } from '../engine/losses.js';
import { conditioned } from '../optimizer/conditioned.js';
import type { BenchCase } from './bench.js';
import { now, timeIt } from './timing.js';
import { trainStep } from './trainStep.js';

export const wrapperStepCase: BenchCase = async (ctx) => {
  const loss = perExampleLoss('categoricalCrossentropy');
  const opt = conditioned(tf.train.sgd(0.01), { groups: 'none' });
  const step = () => trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
  const first = now();
  step();
  const slow = now() - first > 2000;
  const { ms } = await timeIt(step, slow ? { warmup: 0, runs: 1 } : { warmup: 1, runs: ctx.runs });
  opt.dispose();
  return [{ what: 'train step, conditioned wrapper (loss, norms, kappaWStep)', ms }];
};
