/**
 * Bench rows for the gradient engine: every metric group on one batch, and the batched
 * per-example pass against the naive per-example loop (b separate backward passes).
 */
import { tf } from '../backend/tf.js';
import { perExampleLoss } from '../engine/losses.js';
import { measureBatch } from '../engine/measure.js';
import { disposePass, gram, perExamplePass } from '../engine/perExample.js';
import type { SampleGroup } from '../metrics/registry.js';
import type { BenchCase, BenchContext } from './bench.js';
import { now, timeIt } from './timing.js';

const GROUP_ROWS: { group: SampleGroup; what: string }[] = [
  { group: 'weightPerturbation', what: 'step-consistency: kappaW, cosSimW, diversityW, coherenceW (2 perturbed gradients)' },
  { group: 'perExample', what: 'per-example: coherence, stableRankW, rankW, noiseScale (one Gram matrix)' },
  { group: 'inputGradient', what: 'input gradients: stableRankX, rankX' },
  { group: 'inputPerturbation', what: 'kappaX (2n = 8 input directions)' },
  { group: 'multiBatch', what: 'confusion, diversity (4 sub-batches)' },
];

/** Median time of `fn`, timed once when a single call already takes over 2 s. */
async function adaptiveTime(fn: () => void, runs: number): Promise<number> {
  const t0 = now();
  fn();
  const first = now() - t0;
  return (first > 2000 ? await timeIt(fn, { warmup: 0, runs: 1 }) : await timeIt(fn, { warmup: 0, runs })).ms;
}

function chunks(ctx: BenchContext, n: number): { x: tf.Tensor; y: tf.Tensor }[] {
  const size = Math.floor(ctx.batch / n);
  return Array.from({ length: n - 1 }, (_, k) => ({ x: ctx.x.slice((k + 1) * size, size), y: ctx.y.slice((k + 1) * size, size) }));
}

export const metricGroupCase: BenchCase = async (ctx) => {
  const loss = perExampleLoss('categoricalCrossentropy');
  const engine = { model: ctx.model, loss, mask: null, eta: 1e-3 };
  const others = chunks(ctx, 4);
  const size = Math.floor(ctx.batch / 4);
  const [x0, y0] = [ctx.x.slice(0, size), ctx.y.slice(0, size)];
  const rows = [];
  for (const { group, what } of GROUP_ROWS) {
    const multi = group === 'multiBatch';
    const run = () =>
      void measureBatch(engine, multi ? x0 : ctx.x, multi ? y0 : ctx.y, [group], {
        weightSampling: { sampling: 'gradient', n: 1, seed: 0 },
        inputDirections: 4,
        otherBatches: multi ? others : [],
      });
    rows.push({ what, ms: await adaptiveTime(run, ctx.runs) });
  }
  tf.dispose([x0, y0, ...others.flatMap((o) => [o.x, o.y])]);
  return rows;
};

export const perExampleEngineCase: BenchCase = async (ctx) => {
  const loss = perExampleLoss('categoricalCrossentropy');
  const gramVia = (forceLoop: boolean) => () => {
    const pass = perExamplePass(ctx.model, loss, ctx.x, ctx.y, { forceLoop });
    const g = gram(pass);
    g.dataSync();
    g.dispose();
    disposePass(pass);
  };
  return [
    { what: 'per-example Gram, batched engine', ms: await adaptiveTime(gramVia(false), ctx.runs) },
    { what: 'per-example Gram, naive loop (b backward passes)', ms: await adaptiveTime(gramVia(true), ctx.runs) },
  ];
};
