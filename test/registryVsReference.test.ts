/**
 * Every metric in the registry against the independent float64 reference (test/reference), as
 * the conditioned optimizer measures it during training. The table below has one entry per
 * registered metric (the type requires it), so a new metric cannot ship without a reference.
 *
 * Each case takes two SGD steps through the wrapper with every group sampled at every step:
 * step 0 on batch A (θ₀ → θ₁), step 1 on batch B (θ₁ → θ₂). The samples of step 1 are taken on
 * batch B at θ₂; the reference recomputes everything from the same weights (read back from the
 * model, exactly) in float64.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { createMask } from '../src/engine/mask.js';
import { batchLoss, perExampleLoss } from '../src/engine/losses.js';
import { expectedStableRank } from '../src/metrics/expectedStableRank.js';
import { METRIC_NAMES, type MetricName } from '../src/metrics/registry.js';
import { conditioned } from '../src/optimizer/conditioned.js';
import type { MetricSample, StepEvent } from '../src/stream/types.js';
import * as ref from './reference/metrics.js';
import { flattenParams, type RefModel, type Target } from './reference/model.js';
import { refTargets, setSeededWeights, tensorRows, toRefModel } from './helpers.js';
import { CASES, type Case, batchesFor } from './referenceCases.js';

/** What the reference needs: the weights before and after each step, both batches, the options. */
interface Problem {
  c: Case;
  r0: RefModel;
  r1: RefModel;
  r2: RefModel;
  a: { xs: number[][]; ys: Target[] };
  b: { xs: number[][]; ys: Target[] };
  /** Batch B's sub-batches (the multiBatch group splits the batch in two). */
  parts: { xs: number[][]; ys: Target[] }[];
  mask?: boolean[];
  eta: number;
}

const dim = (p: Problem) => (p.mask ? p.mask.filter(Boolean).length : flattenParams(p.r2).length);
const hs = (p: Problem) => ref.perExampleGrads(p.r2, p.b.xs, p.b.ys).map((v) => ref.applyMask(v, p.mask));
const gs = (p: Problem) => ref.inputGrads(p.r2, p.b.xs, p.b.ys);
/** descent directions at the step's scale s = ‖θ₂ − θ₁‖ (unmasked, as the step measured it). */
function stepConsistency(p: Problem) {
  const s = ref.norm(ref.sub(flattenParams(p.r2), flattenParams(p.r1)));
  return ref.stepConsistencyW(p.r2, p.b.xs, p.b.ys, { directions: ref.descentDirections(hs(p).slice(0, 2), 2, s), mask: p.mask });
}
const update = (p: Problem) => ref.updateMetrics(p.r1, p.r2, p.b.xs, p.b.ys, p.mask);
const subGrads = (p: Problem) => p.parts.map((q) => ref.applyMask(ref.batchGrad(p.r2, q.xs, q.ys), p.mask));

/** One reference per registered metric: the `Record` type makes a missing one a compile error. */
const REFERENCE: { readonly [N in MetricName]: (p: Problem) => number | null } = {
  kappaW: (p) => stepConsistency(p).kappaW,
  cosSimW: (p) => stepConsistency(p).cosSimW,
  diversityW: (p) => stepConsistency(p).diversityW,
  coherenceW: (p) => stepConsistency(p).coherenceW,
  // From consecutive steps, unmasked (the per-step numbers are never masked).
  kappaWStep: (p) => ref.kappaWStep(ref.batchGrad(p.r0, p.a.xs, p.a.ys), ref.batchGrad(p.r1, p.b.xs, p.b.ys), flattenParams(p.r0), flattenParams(p.r1)),
  kappaWUpdate: (p) => update(p).kappaWUpdate,
  cosSimWUpdate: (p) => update(p).cosSimWUpdate,
  descentRatio: (p) => update(p).descentRatio,
  localSmoothness: (p) => update(p).localSmoothness,
  kappaX: (p) => ref.kappaX(p.r2, p.b.xs, p.b.ys, { eta: p.eta, n: 4, mask: p.mask }),
  stableRankX: (p) => ref.stableRank(gs(p)),
  // rank = stableRank / E[R(Y)]: E[R(Y)] is checked against direct Monte Carlo in its own tests.
  rankX: (p) => ref.stableRank(gs(p))! / expectedStableRank(gs(p)[0].length, p.c.b),
  stableRankW: (p) => ref.stableRank(hs(p)),
  rankW: (p) => ref.stableRank(hs(p))! / expectedStableRank(dim(p), p.c.b),
  confusion: (p) => ref.confusion(subGrads(p)),
  diversity: (p) => ref.diversity(subGrads(p)),
  coherence: (p) => ref.coherence(hs(p)),
  noiseScale: (p) => ref.noiseScale(hs(p)),
  traceSigma: (p) => ref.traceSigma(hs(p)),
  gradSqEstimate: (p) => ref.gradSqEstimate(hs(p)),
};

function close(name: string, got: number | null | undefined, want: number | null, tol: number): void {
  assert.notEqual(got, undefined, `${name}: not measured`);
  if (want === null) return assert.equal(got, null, `${name}: expected null`);
  assert.notEqual(got, null, `${name}: got null, expected ${want}`);
  const err = Math.abs(got! - want) / Math.max(Math.abs(want), 1e-12);
  assert.ok(err <= tol, `${name}: ${got} vs reference ${want} (relative error ${err.toExponential(2)})`);
}

function rows(x: tf.Tensor, y: tf.Tensor, c: Case) {
  return { xs: tensorRows(x), ys: refTargets(y, c.loss) };
}

describe('every registered metric against the float64 reference, as measured while training', () => {
  before(async () => void (await useBackend('cpu')));

  test('the table covers the registry', () => {
    assert.deepEqual(Object.keys(REFERENCE).sort(), [...METRIC_NAMES].sort());
  });

  for (const c of CASES) {
    test(c.name, () => {
      const model = c.build();
      setSeededWeights(model, 7);
      const outUnits = model.outputs[0].shape[1] as number;
      const [A, B, spare] = batchesFor(c, outUnits);
      const opt = conditioned(tf.train.sgd(0.2), {
        model, loss: c.loss, every: 1, groups: 'full', eta: c.eta, mask: c.mask, seed: 3, weightSampling: 'descent', weightSamples: 2, subBatches: 2,
      });
      const steps: StepEvent[] = [];
      const samples: MetricSample[] = [];
      opt.steps$.subscribe((e) => steps.push(e));
      opt.metrics$.subscribe((s) => samples.push(s));
      const loss = perExampleLoss(c.loss);
      const weights: RefModel[] = [toRefModel(model, c.loss)];
      for (const { x, y } of [A, B]) {
        opt.setBatch(x, y);
        opt.minimize(() => batchLoss(loss, y, model.apply(x) as tf.Tensor));
        weights.push(toRefModel(model, c.loss));
      }
      const mask = c.mask ? createMask(model.trainableWeights.map((w) => w.read().size), c.mask, 3)! : null;
      const half = Math.floor(c.b / 2);
      const problem: Problem = {
        c, r0: weights[0], r1: weights[1], r2: weights[2], eta: c.eta,
        a: rows(A.x, A.y, c), b: rows(B.x, B.y, c),
        parts: [0, 1].map((k) => rows(B.x.slice(k * half, half), B.y.slice(k * half, half), c)),
        mask: mask ? Array.from({ length: mask.size }, (_, i) => mask.indices.includes(i)) : undefined,
      };
      const got: Partial<Record<MetricName, number | null>> = { kappaWStep: steps[1].kappaWStep };
      for (const s of samples.filter((x) => x.step === 1)) Object.assign(got, s.values);
      for (const name of METRIC_NAMES) close(name, got[name], REFERENCE[name](problem), 1e-4);
      opt.dispose();
      for (const t of [A, B, spare]) tf.dispose([t.x, t.y]);
    });
  }
});
