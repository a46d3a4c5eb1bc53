/**
 * Every probe metric against the independent float64 reference (test/reference), on small
 * models whose gradients have closed forms or exact backward passes: linear and one-hidden-layer
 * models with MSE and softmax cross-entropy, a small convolution, masks.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { createMask } from '../src/engine/mask.js';
import { expectedStableRank } from '../src/metrics/expectedStableRank.js';
import { probe } from '../src/probe.js';
import * as ref from './reference/metrics.js';
import { refTargets, setSeededWeights, tensorRows, toRefModel } from './helpers.js';
import { CASES, batchesFor } from './referenceCases.js';

function close(name: string, got: number | null, want: number | null, tol: number): void {
  if (want === null) return assert.equal(got, null, `${name}: expected null`);
  assert.notEqual(got, null, `${name}: got null, expected ${want}`);
  const err = Math.abs(got! - want) / Math.max(Math.abs(want), 1e-12);
  assert.ok(err <= tol, `${name}: ${got} vs reference ${want} (relative error ${err.toExponential(2)})`);
}

describe('probe metrics against the float64 reference', () => {
  before(async () => {
    await useBackend('cpu');
  });
  for (const c of CASES) {
    test(c.name, () => {
      const model = c.build();
      setSeededWeights(model, 7);
      const outUnits = model.outputs[0].shape[1] as number;
      const batches = batchesFor(c, outUnits);
      const got = probe(model, { loss: c.loss, batches }, { eta: c.eta, n: 4, mask: c.mask ?? 1, seed: 3 });
      const r = toRefModel(model, c.loss);
      const xs = batches.map((b) => tensorRows(b.x));
      const ys = batches.map((b) => refTargets(b.y, c.loss));
      // The same mask, as explicit kept indices per variable.
      const mask = c.mask ? createMask(model.trainableWeights.map((w) => w.read().size), c.mask, 3)! : null;
      const maskBits = mask ? Array.from({ length: mask.size }, (_, i) => mask.indices.includes(i)) : undefined;
      const h = ref.perExampleGrads(r, xs[0], ys[0]).map((v) => ref.applyMask(v, maskBits));
      const g = ref.inputGrads(r, xs[0], ys[0]);
      const d = mask ? mask.indices.length : h[0].length;
      const sc = ref.stepConsistencyW(r, xs[0], ys[0], { eta: c.eta, mask: maskBits });
      const tol = 1e-4;
      close('kappaW', got.metrics.kappaW, sc.kappaW, tol);
      close('cosSimW', got.metrics.cosSimW, sc.cosSimW, tol);
      close('diversityW', got.metrics.diversityW, sc.diversityW, tol);
      close('coherenceW', got.metrics.coherenceW, sc.coherenceW, tol);
      close('kappaX', got.metrics.kappaX, ref.kappaX(r, xs[0], ys[0], { eta: c.eta, n: 4, mask: maskBits }), tol);
      close('stableRankX', got.metrics.stableRankX, ref.stableRank(g), tol);
      close('stableRankW', got.metrics.stableRankW, ref.stableRank(h), tol);
      // rank = stableRank / E[R(Y)]: the expectation is checked against direct Monte Carlo in metrics.test.ts.
      close('rankX', got.metrics.rankX, ref.stableRank(g)! / expectedStableRank(g[0].length, c.b), tol);
      close('rankW', got.metrics.rankW, ref.stableRank(h)! / expectedStableRank(d, c.b), tol);
      close('coherence', got.metrics.coherence, ref.coherence(h), tol);
      close('noiseScale', got.metrics.noiseScale, ref.noiseScale(h), tol);
      const batchGrads = xs.map((x, k) => ref.applyMask(ref.batchGrad(r, x, ys[k]), maskBits));
      close('confusion', got.metrics.confusion, ref.confusion(batchGrads), tol);
      close('diversity', got.metrics.diversity, ref.diversity(batchGrads), tol);
      for (const b of batches) tf.dispose([b.x, b.y]);
    });
  }
});
