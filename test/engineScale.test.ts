/**
 * What keeps the engine's cost proportional as the batch grows, checked for exactness: the tiled
 * Gram matrix (only tiles on and below the diagonal) against one product, the Lanczos eigen-solve
 * against the dense float64 solver, and the metrics of a batch large enough to take both paths
 * against the independent float64 reference. (Speed itself is measured by `gradcond bench`, not
 * here.)
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { toGram } from '../src/engine/hostMath.js';
import { perExampleLoss } from '../src/engine/losses.js';
import {
  disjointSubsets,
  disposePass,
  gram,
  inputGram,
  inputGramNeedsInputGradients,
  perExamplePass,
  subsetGrams,
  subsetInputGrams,
  subsetMean,
} from '../src/engine/perExample.js';
import { inputDenseStep } from '../src/engine/inputGram.js';
import { planModel } from '../src/engine/layers/index.js';
import { measureBatch } from '../src/engine/measure.js';
import { UsageError } from '../src/errors.js';
import { coherence, stableRankW, stableRankX } from '../src/metrics/batchDissonance.js';
import {
  DENSE_EIGEN_MAX,
  EIGEN_TOL,
  type Gram,
  gramFromVectors,
  largestEigenvalue,
  largestEigenvalueDense,
  largestEigenvalueSymmetric,
  makeGram,
} from '../src/metrics/gram.js';
import { noiseScale } from '../src/metrics/noiseScale.js';
import * as ref from './reference/metrics.js';
import { oneHot, refTargets, relErr, seededTensor, setSeededWeights, tensorRows, toRefModel } from './helpers.js';

/** Seeded standard normals (Box–Muller on a small LCG; not the library's generators). */
function normals(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const vectors = (n: number, d: number, seed: number, shift = 0): number[][] => {
  const z = normals(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, (_, k) => z() + (k === 0 ? shift : 0)));
};

/** A symmetric matrix from a function of (i, j), i ≥ j. */
function symmetric(n: number, f: (i: number, j: number) => number): Gram {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) data[i * n + j] = data[j * n + i] = f(i, j);
  return makeGram(n, data);
}

describe('Lanczos eigen-solve', () => {
  const cases: [string, Gram][] = [
    ['Gaussian Gram, more rows than columns (flat spectrum)', gramFromVectors(vectors(130, 400, 1))],
    ['Gaussian Gram, rank 40 of 300', gramFromVectors(vectors(300, 40, 2))],
    ['gradients sharing a mean direction', gramFromVectors(vectors(200, 150, 3, 12))],
    ['identity × 3 (one eigenvalue, multiplicity n)', symmetric(100, (i, j) => (i === j ? 3 : 0))],
    ['top eigenvalue 1e-6 above the next', symmetric(90, (i, j) => (i !== j ? 0 : i === 7 ? 1 : i === 50 ? 1 - 1e-6 : 0.5 * ((i * 37) % 11) / 11))],
    ['top eigenvector orthogonal to the all-ones vector', symmetric(120, (i, j) => 10 * (i % 2 ? 1 : -1) * (j % 2 ? 1 : -1) + (i === j ? 0.1 : 0))],
    ['indefinite', symmetric(80, (i, j) => Math.sin(i * 7 + j * 3) + (i === j ? -1 : 0))],
    ['all negative definite', symmetric(70, (i, j) => (i === j ? -1 - i / 70 : 0.001))],
    ['tiny scale', makeGram(100, gramFromVectors(vectors(100, 50, 5)).data.map((v) => v * 1e-30))],
    ['huge scale', makeGram(100, gramFromVectors(vectors(100, 50, 6)).data.map((v) => v * 1e30))],
  ];
  for (const [name, g] of cases) {
    test(`equals the dense float64 solver within its tolerance: ${name}`, () => {
      assert.ok(g.n > DENSE_EIGEN_MAX, 'the case must take the Lanczos path');
      const want = largestEigenvalueDense(g);
      const got = largestEigenvalueSymmetric(g);
      let scale = 0;
      for (const v of g.data) scale = Math.max(scale, Math.abs(v));
      // The stopping rule bounds the error by EIGEN_TOL·|λ| (1e-7); where the top is separated it is far smaller.
      assert.ok(Math.abs(got - want) <= 1.01 * EIGEN_TOL * Math.max(Math.abs(want), 1e-3 * scale), `${got} vs ${want}`);
      assert.ok(Math.abs(largestEigenvalueSymmetric(g, 1e-12) - want) <= 1e-10 * Math.max(Math.abs(want), 1e-3 * scale), 'tight tolerance');
      assert.equal(largestEigenvalue(g), got, 'largestEigenvalue takes the Lanczos path above the dense size');
    });
  }
  test('non-finite entries give NaN, a zero matrix 0', () => {
    const g = gramFromVectors(vectors(70, 5, 7));
    const bad = makeGram(70, g.data.map((v, k) => (k === 75 ? NaN : v)));
    assert.ok(Number.isNaN(largestEigenvalueSymmetric(bad)));
    assert.ok(Number.isNaN(largestEigenvalueSymmetric(makeGram(70, g.data.map((v, k) => (k === 3 ? Infinity : v))))));
    assert.equal(largestEigenvalueSymmetric(makeGram(70, new Float64Array(4900))), 0);
  });
});

const loss = perExampleLoss('categoricalCrossentropy');

describe('sub-batch approximation', () => {
  test('disjoint seeded sub-batches of the requested size', () => {
    const parts = disjointSubsets(23, { size: 5, seed: 3 });
    assert.equal(parts.length, 4);
    const all = parts.flatMap((p) => Array.from(p));
    assert.equal(new Set(all).size, 20, 'disjoint');
    assert.ok(all.every((i) => Number.isInteger(i) && i >= 0 && i < 23));
    assert.deepEqual(disjointSubsets(23, { size: 5, seed: 3 }), parts, 'deterministic');
    assert.notDeepEqual(disjointSubsets(23, { size: 5, seed: 4 }), parts, 'seeded');
    assert.throws(() => disjointSubsets(23, { size: 24, seed: 1 }), UsageError);
    assert.throws(() => disjointSubsets(23, { size: 1, seed: 1 }), UsageError);
  });
  test('mean and standard error over sub-batches', () => {
    const e = subsetMean([1, 2, null, 3, 4]);
    assert.equal(e.mean, 2.5);
    assert.ok(Math.abs(e.stdError! - Math.sqrt(5 / 3) / 2) < 1e-15);
    assert.equal(e.parts, 4);
    assert.equal(subsetMean([null]).mean, null);
    assert.equal(subsetMean([7]).stdError, null);
  });
});

describe('where the input Gram can be factored', () => {
  const denseIndex = (model: tf.LayersModel): number | null => {
    const plan = planModel(model);
    assert.ok(plan.ok);
    const k = inputDenseStep(plan);
    if (k !== null) assert.equal(k, plan.steps.findIndex((s) => s.kind === 'weighted'), 'the first weighted step');
    return k;
  };

  test('a Dense layer reading the input, directly or through Flatten / Reshape', () => {
    const flat = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [3, 4] }), tf.layers.dense({ units: 2 })] });
    const reshaped = tf.sequential({ layers: [tf.layers.reshape({ inputShape: [3, 4], targetShape: [12] }), tf.layers.dense({ units: 2 })] });
    const direct = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 2 }), tf.layers.dense({ units: 2 })] });
    for (const m of [flat, reshaped, direct]) {
      assert.notEqual(denseIndex(m), null, m.layers.map((l) => l.getClassName()).join(' → '));
      m.dispose();
    }
  });

  test('not: a convolution first, a layer in between, a Dense on rank-3 activations, an input read twice', () => {
    const conv = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    const between = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [6] }), tf.layers.dense({ units: 2 })] });
    const between2 = tf.sequential({ layers: [tf.layers.activation({ inputShape: [6], activation: 'tanh' }), tf.layers.dense({ units: 2 })] });
    const rank3 = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 4], units: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    const input = tf.input({ shape: [6] });
    const twice = tf.model({ inputs: input, outputs: tf.layers.concatenate().apply([tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor, input]) as tf.SymbolicTensor });
    for (const m of [conv, between, between2, rank3, twice]) {
      assert.equal(denseIndex(m), null, m.layers.map((l) => l.getClassName()).join(' → '));
      m.dispose();
    }
  });

  test('chosen by cost: the g_i are formed at small batches, skipped at large ones (784 → 256)', () => {
    const mlp = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
    assert.equal(inputGramNeedsInputGradients(mlp, 16), true);
    assert.equal(inputGramNeedsInputGradients(mlp, 1024), false);
    mlp.dispose();
  });
});

for (const backend of ['cpu', 'wasm']) {
  describe(`tiled Gram matrices on ${backend}`, () => {
    test('setup', async () => {
      await useBackend(backend);
    });

    test('tiles on and below the diagonal give the one-product Gram matrix, exactly symmetric', () => {
      const model = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 2, kernelSize: 2, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 6, activation: 'tanh' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(model, 2);
      const b = 37;
      const x = seededTensor([b, 5, 5, 2], 3);
      const y = oneHot(b, 3);
      const before = tf.memory().numTensors;
      const pass = perExamplePass(model, loss, x, y);
      const one = gram(pass, null, 1000);
      const whole = one.dataSync();
      one.dispose();
      const wholeInput = tf.tidy(() => {
        const g = pass.inputGrads!.reshape([b, -1]);
        return tf.matMul(g, g, false, true);
      });
      for (const rows of [8, 16, 36]) {
        for (const [tiled, want] of [[gram(pass, null, rows), whole], [inputGram(pass, rows), wholeInput.dataSync()]] as const) {
          const t = tiled.dataSync();
          tiled.dispose();
          assert.ok(relErr(t, want) <= 1e-5, `tile ${rows}: ${relErr(t, want)}`);
          for (let i = 0; i < b; i++) for (let j = 0; j < i; j++) assert.equal(t[i * b + j], t[j * b + i], `symmetric at ${i}, ${j}`);
        }
      }
      wholeInput.dispose();
      disposePass(pass);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      tf.dispose([x, y]);
      model.dispose();
    });

    test('sub-batch Gram matrices are the principal submatrices of the full one', () => {
      const model = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(model, 6);
      const b = 17;
      const x = seededTensor([b, 4], 9);
      const y = oneHot(b, 3);
      const before = tf.memory().numTensors;
      const pass = perExamplePass(model, loss, x, y);
      const subsets = disjointSubsets(b, { size: 4, seed: 2 });
      for (const [subs, full] of [[subsetGrams(pass, subsets), gram(pass)], [subsetInputGrams(pass, subsets), inputGram(pass)]] as const) {
        const f = full.dataSync();
        subs.forEach((g, k) => {
          const idx = subsets[k]!;
          const want = Array.from({ length: 16 }, (_, t) => f[idx[Math.floor(t / 4)]! * b + idx[t % 4]!]!);
          assert.ok(relErr(g.dataSync(), want) <= 1e-5, `sub-batch ${k}`);
        });
        tf.dispose([...subs, full]);
      }
      disposePass(pass);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      tf.dispose([x, y]);
      model.dispose();
    });

    test('gramSubset: each Gram-based metric is the mean over sub-batches of the float64 reference, with its standard error', () => {
      const model = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [6], units: 7, activation: 'tanh' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(model, 4);
      const b = 26; // 3 sub-batches of 8, two examples left out
      const x = seededTensor([b, 6], 12);
      const y = oneHot(b, 3);
      const ctx = { model, loss, mask: null, eta: 1e-3 };
      const opts = { weightSampling: { sampling: 'gradient' as const, n: 1, seed: 0 }, inputDirections: 2 };
      const before = tf.memory().numTensors;
      const m = measureBatch(ctx, x, y, ['perExample', 'inputGradient'], { ...opts, gramSubset: { size: 8, seed: 5 } });
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      assert.equal(m.gramSubset?.size, 8);
      assert.equal(m.gramSubset?.parts, 3);
      const r = toRefModel(model, 'categoricalCrossentropy');
      const [xs, ys] = [tensorRows(x), refTargets(y, 'categoricalCrossentropy')];
      const h = ref.perExampleGrads(r, xs, ys);
      const g = ref.inputGrads(r, xs, ys);
      const subsets = disjointSubsets(b, { size: 8, seed: 5 });
      const pick = <T>(rows: T[], k: number) => Array.from(subsets[k]!, (i) => rows[i]!);
      const checks: [string, (k: number) => number | null][] = [
        ['stableRankW', (k) => ref.stableRank(pick(h, k))],
        ['coherence', (k) => ref.coherence(pick(h, k))],
        ['noiseScale', (k) => ref.noiseScale(pick(h, k))],
        ['stableRankX', (k) => ref.stableRank(pick(g, k))],
      ];
      for (const [name, refOf] of checks) {
        // Sub-batches where the metric is undefined (noise dominates) are left out of the mean.
        const parts = subsets.map((_, k) => refOf(k)).filter((v): v is number => v !== null);
        const mean = parts.reduce((a, v) => a + v, 0) / parts.length;
        const got = m.values[name as 'coherence']!.value!;
        const gotSe: number | null | undefined = m.gramSubset!.standardErrors[name as 'coherence'];
        assert.ok(Math.abs(got - mean) <= 2e-5 * Math.abs(mean), `${name}: ${got} vs ${mean}`);
        if (parts.length < 2) {
          assert.equal(gotSe, null, `${name}: one defined sub-batch, no standard error`);
          continue;
        }
        const se = Math.sqrt(parts.reduce((a, v) => a + (v - mean) ** 2, 0) / (parts.length - 1) / parts.length);
        assert.ok(Math.abs(gotSe! - se) <= 1e-4 * Math.abs(mean) + 1e-3 * se, `${name} standard error: ${gotSe} vs ${se}`);
      }
      // Batches no larger than the sub-batch size are measured exactly, and nothing says otherwise.
      const exact = measureBatch(ctx, x, y, ['perExample'], opts);
      const same = measureBatch(ctx, x, y, ['perExample'], { ...opts, gramSubset: { size: b, seed: 5 } });
      assert.deepEqual(same.values, exact.values);
      assert.equal(same.gramSubset, undefined);
      assert.throws(() => measureBatch(ctx, x, y, ['perExample'], { ...opts, gramSubset: { size: 1, seed: 0 } }), UsageError);
      tf.dispose([x, y]);
      model.dispose();
    });

    test('a pass without input gradients has the same per-example Gram matrix; its input Gram is factored or refused', () => {
      const conv = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(conv, 8);
      const x = seededTensor([9, 4, 4, 1], 2);
      const y = oneHot(9, 3);
      const before = tf.memory().numTensors;
      const [full, lean] = [perExamplePass(conv, loss, x, y), perExamplePass(conv, loss, x, y, { inputGradients: false })];
      assert.equal(lean.inputGrads, null);
      assert.equal(lean.inputFactor, null, 'the first weighted layer is a convolution: no factored form');
      const [a, c] = [gram(full), gram(lean)];
      assert.deepEqual(Array.from(c.dataSync()), Array.from(a.dataSync()));
      assert.throws(() => inputGram(lean), /without input gradients/);
      tf.dispose([a, c]);
      disposePass(full);
      disposePass(lean);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      tf.dispose([x, y]);
      conv.dispose();
    });

    test('factored input Gram δ (WᵀW) δᵀ (first layer Dense on the flattened input) equals the float64 reference: one tile, tiles, sub-batches', () => {
      const model = tf.sequential({ layers: [
        tf.layers.flatten({ inputShape: [3, 4] }),
        tf.layers.dense({ units: 5, activation: 'tanh' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(model, 11);
      const b = 23;
      const x = seededTensor([b, 3, 4], 6);
      const y = oneHot(b, 3);
      const g = ref.inputGrads(toRefModel(model, 'categoricalCrossentropy'), tensorRows(x), refTargets(y, 'categoricalCrossentropy'));
      const want = (i: number, j: number) => g[i]!.reduce((sum, v, k) => sum + v * g[j]![k]!, 0);
      const before = tf.memory().numTensors;
      const pass = perExamplePass(model, loss, x, y, { inputGradients: false });
      assert.equal(pass.inputGrads, null);
      assert.ok(pass.inputFactor, 'Flatten → Dense: the factored form applies');
      const scale = Math.max(...g.map((_, i) => want(i, i)));
      for (const tile of [1000, 8]) {
        const t = inputGram(pass, tile);
        const got = t.dataSync();
        t.dispose();
        for (let i = 0; i < b; i++) {
          for (let j = 0; j < b; j++) {
            assert.ok(Math.abs(got[i * b + j]! - want(i, j)) <= 1e-5 * scale, `tile ${tile}, (${i}, ${j}): ${got[i * b + j]} vs ${want(i, j)}`);
            assert.equal(got[i * b + j], got[j * b + i], 'exactly symmetric');
          }
        }
      }
      const subsets = disjointSubsets(b, { size: 5, seed: 1 });
      subsetInputGrams(pass, subsets).forEach((t, k) => {
        const idx = subsets[k]!;
        const got = t.dataSync();
        t.dispose();
        idx.forEach((p, i) => idx.forEach((q, j) => assert.ok(Math.abs(got[i * 5 + j]! - want(p, q)) <= 1e-5 * scale, `sub-batch ${k}`)));
      });
      disposePass(pass);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      tf.dispose([x, y]);
      model.dispose();
    });

    test('metrics of a 300-example batch (tiled Gram, Lanczos) equal the float64 reference', () => {
      const model = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [10], units: 12, activation: 'tanh' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      setSeededWeights(model, 5);
      const b = 300;
      const x = seededTensor([b, 10], 8);
      const y = oneHot(b, 3);
      const pass = perExamplePass(model, loss, x, y);
      const read = (t: tf.Tensor2D) => {
        const g = toGram(b, t.dataSync());
        t.dispose();
        return g;
      };
      const sample = { gram: read(gram(pass)), dim: 171 };
      const inputSample = { gram: read(inputGram(pass)), dim: 10 };
      disposePass(pass);
      for (const g of [sample.gram, inputSample.gram]) {
        const [lz, dense] = [largestEigenvalue(g), largestEigenvalueDense(g)];
        assert.ok(Math.abs(lz - dense) <= 1e-10 * dense, `Lanczos ${lz} vs dense ${dense}: a separated top converges far below the tolerance`);
      }
      const r = toRefModel(model, 'categoricalCrossentropy');
      const [xs, ys] = [tensorRows(x), refTargets(y, 'categoricalCrossentropy')];
      const h = ref.perExampleGrads(r, xs, ys);
      const g = ref.inputGrads(r, xs, ys);
      const checks: [string, number | null, number | null][] = [
        ['stableRankW', stableRankW(sample).value, ref.stableRank(h)],
        ['coherence', coherence(sample).value, ref.coherence(h)],
        ['noiseScale', noiseScale(sample).value, ref.noiseScale(h)],
        ['stableRankX', stableRankX(inputSample).value, ref.stableRank(g)],
      ];
      for (const [name, got, want] of checks) {
        assert.ok(got !== null && want !== null, `${name}: ${got} vs ${want}`);
        assert.ok(Math.abs(got - want) <= 2e-5 * Math.abs(want), `${name}: ${got} vs ${want}`);
      }
      tf.dispose([x, y]);
      model.dispose();
    });
  });
}
after(() => tf.disposeVariables());
