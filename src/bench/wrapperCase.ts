/**
 * Bench rows: a training step through the conditioned wrapper with only its free per-step
 * numbers, computed every step (the default) and every 10th step (`stepMetrics: 10`). The wrapped
 * steps and plain steps are timed in alternation, in cycles of 10 steps, so that the ratio in the
 * note compares steps taken under the same load and the same state of V8's wasm compiler (a
 * step measured minutes earlier can differ from it by a third on this machine).
 */
import { tf } from '../backend/tf.js';
import { perExampleLoss } from '../engine/losses.js';
import { conditioned } from '../optimizer/conditioned.js';
import type { BenchCase } from './bench.js';
import { median, now } from './timing.js';
import { trainStep } from './trainStep.js';

const CYCLE = 10;
const VARIANTS = [
  { what: 'train step, conditioned wrapper (loss, norms, kappaWStep)', every: 1 },
  { what: `train step, conditioned wrapper, per-step numbers every ${CYCLE} steps (stepMetrics: ${CYCLE})`, every: CYCLE },
];

export const wrapperStepCase: BenchCase = async (ctx) => {
  const loss = perExampleLoss('categoricalCrossentropy');
  const plain = tf.train.sgd(0.01);
  const wrapped = VARIANTS.map((v) => conditioned(tf.train.sgd(0.01), { groups: 'none', stepMetrics: v.every }));
  const optimizers = [plain, ...wrapped];
  /** Mean ms per step over one cycle of `CYCLE` steps with `opt`. */
  const cycle = (opt: tf.Optimizer): number => {
    const t0 = now();
    for (let i = 0; i < CYCLE; i++) trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
    return (now() - t0) / CYCLE;
  };
  const slow = cycle(plain) > 2000 / CYCLE; // seconds-long steps: one timed cycle each
  const rounds = slow ? 1 : ctx.runs;
  for (const opt of optimizers) if (!slow) cycle(opt); // warm-up
  const times: number[][] = optimizers.map(() => []);
  for (let r = 0; r < rounds; r++) optimizers.forEach((opt, k) => times[k]!.push(cycle(opt)));
  optimizers.forEach((o) => o.dispose());
  return VARIANTS.map((v, k) => {
    const ratio = median(times[k + 1]!.map((ms, r) => ms / times[0]![r]!));
    return { what: v.what, ms: median(times[k + 1]!), note: `${ratio.toFixed(2)}× a plain step timed in alternation (median of ${rounds} rounds of ${CYCLE} steps)` };
  });
};
