/**
 * Invariants every correct implementation of the metrics (docs/metrics.md) keeps, independent of any one
 * reference number: identical examples / batches, the η → 0 (Hessian-vector-product) limit of
 * kappaW, masks with p = 1, the per-example and random weight samplings, BatchNormalization in
 * training mode, and no tensor leak across many measurements.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { perExampleLoss, type PerExampleLoss } from '../src/engine/losses.js';
import { createMask, type Mask } from '../src/engine/mask.js';
import { measureBatch, type MeasureOptions, type MetricValues } from '../src/engine/measure.js';
import { flatParams } from '../src/engine/params.js';
import type { EngineContext, WeightSamplingOptions } from '../src/engine/context.js';
import { SharedWork } from '../src/engine/groups/shared.js';
import { sampleWeightPerturbation } from '../src/engine/groups/weightPerturbation.js';
import { METRIC_NAMES, SAMPLE_GROUPS, computeGroup, metricsOfGroup } from '../src/metrics/registry.js';
import { probe, type ProbeBatch } from '../src/probe.js';
import * as ref from './reference/metrics.js';
import { flattenParams, withParams, type LossName } from './reference/model.js';
import { oneHot, refTargets, scalarRelErr, seededTensor, setSeededWeights, tensorRows, toRefModel } from './helpers.js';

const dense = (units: number, activation: string, extra: object = {}) => tf.layers.dense({ units, activation: activation as never, ...extra });

function tanhSoftmax(): tf.LayersModel {
  const m = tf.sequential({ layers: [dense(4, 'tanh', { inputShape: [5] }), dense(3, 'softmax')] });
  setSeededWeights(m, 7);
  return m;
}

function linearMse(): tf.LayersModel {
  const m = tf.sequential({ layers: [dense(3, 'linear', { inputShape: [4] })] });
  setSeededWeights(m, 5);
  return m;
}

function val(values: MetricValues, name: keyof MetricValues): number {
  const v = values[name];
  assert.ok(v, `${name}: missing`);
  assert.ok(v.value !== null, `${name}: null (${v.value === null ? v.reason : ''})`);
  return v.value;
}

function near(name: string, got: number | null, want: number, tol: number): void {
  assert.ok(got !== null, `${name}: got null, expected ${want}`);
  const err = scalarRelErr(got, want);
  assert.ok(err <= tol, `${name}: ${got} vs ${want} (relative error ${err.toExponential(2)} > ${tol})`);
}

const defaultOpts = (extra: Partial<MeasureOptions> = {}): MeasureOptions => ({
  weightSampling: { sampling: 'gradient', n: 1, seed: 0 },
  inputDirections: 4,
  ...extra,
});

describe('invariants', () => {
  before(async () => {
    await useBackend('cpu');
  });

  describe('identical examples and batches', () => {
    test('a batch of identical examples: coherence = 1, stableRankW = 1, stableRankX = 1', () => {
      const model = tanhSoftmax();
      const loss = perExampleLoss('categoricalCrossentropy');
      const row = seededTensor([1, 5], 21);
      const x = tf.tile(row, [6, 1]);
      const y = tf.tile(oneHot(1, 3, 1), [6, 1]);
      const m = measureBatch({ model, loss, mask: null, eta: 1e-3 }, x, y, ['perExample', 'inputGradient'], defaultOpts());
      near('coherence', val(m.values, 'coherence'), 1, 1e-5);
      near('stableRankW', val(m.values, 'stableRankW'), 1, 1e-5);
      near('stableRankX', val(m.values, 'stableRankX'), 1, 1e-5);
      // noiseScale: tr(Σ) = 0, so noiseScale = 0 (up to float32 roundoff in the Gram matrix).
      const ns = m.values.noiseScale;
      assert.ok(ns && (ns.value === null || Math.abs(ns.value) < 1e-4), `noiseScale of identical examples: ${JSON.stringify(ns)}`);
      tf.dispose([row, x, y]);
      model.dispose();
    });

    test('probe on 3 identical batches: diversity = 1/3, confusion = 0', () => {
      const model = tanhSoftmax();
      const batches: ProbeBatch[] = [0, 1, 2].map(() => ({ x: seededTensor([5, 5], 33), y: oneHot(5, 3, 2) }));
      const r = probe(model, { loss: 'categoricalCrossentropy', batches }, { eta: 1e-3, n: 4, mask: 1, seed: 0 });
      near('diversity', r.metrics.diversity, 1 / 3, 1e-5);
      assert.ok(r.metrics.confusion !== null, `confusion null: ${r.reasons.confusion}`);
      assert.ok(Math.abs(r.metrics.confusion) < 1e-6, `confusion ${r.metrics.confusion}`);
      for (const b of batches) tf.dispose([b.x, b.y]);
      model.dispose();
    });
  });

  describe('kappaW tends to its Hessian-vector-product limit', () => {
    /** κ_HVP = ‖H ω̂‖ ‖θ‖ / ‖h̄‖, ω̂ = h̄/‖h̄‖, H ω̂ by central differences of the float64 reference gradient. */
    function kappaHvp(model: tf.LayersModel, lossName: LossName, x: tf.Tensor, y: tf.Tensor): number {
      const r = toRefModel(model, lossName);
      const xs = tensorRows(x);
      const ys = refTargets(y, lossName);
      const theta = flattenParams(r);
      const hbar = ref.batchGrad(r, xs, ys);
      const unit = ref.scale(hbar, 1 / ref.norm(hbar));
      const eps = 1e-5 * ref.norm(theta);
      const hp = ref.batchGrad(withParams(r, ref.add(theta, ref.scale(unit, eps))), xs, ys);
      const hm = ref.batchGrad(withParams(r, ref.sub(theta, ref.scale(unit, eps))), xs, ys);
      const hv = ref.scale(ref.sub(hp, hm), 1 / (2 * eps));
      return (ref.norm(hv) * ref.norm(theta)) / ref.norm(hbar);
    }

    function kappaWAt(model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, eta: number): number {
      const m = measureBatch({ model, loss, mask: null, eta }, x, y, ['weightPerturbation'], defaultOpts());
      return val(m.values, 'kappaW');
    }

    test('tanh + softmax: monotone approach, within 1% at η = 1e-2', () => {
      const model = tanhSoftmax();
      const loss = perExampleLoss('categoricalCrossentropy');
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const hvp = kappaHvp(model, 'categoricalCrossentropy', x, y);
      const errs = [1e-1, 3e-2, 1e-2].map((eta) => scalarRelErr(kappaWAt(model, loss, x, y, eta), hvp));
      for (let i = 1; i < errs.length; i++) {
        assert.ok(errs[i] < errs[i - 1], `not monotone: relative errors ${errs.map((e) => e.toExponential(2))} vs κ_HVP = ${hvp}`);
      }
      assert.ok(errs[2] <= 1e-2, `η = 1e-2: relative error ${errs[2].toExponential(2)} vs κ_HVP = ${hvp}`);
      tf.dispose([x, y]);
      model.dispose();
    });

    test('linear model, MSE (gradient linear in θ): kappaW = κ_HVP at every η', () => {
      const model = linearMse();
      const loss = perExampleLoss('meanSquaredError');
      const x = seededTensor([6, 4], 100);
      const y = seededTensor([6, 3], 200);
      const hvp = kappaHvp(model, 'meanSquaredError', x, y);
      for (const eta of [1e-1, 3e-2, 1e-2, 1e-3]) near(`kappaW at η = ${eta}`, kappaWAt(model, loss, x, y, eta), hvp, 1e-4);
      tf.dispose([x, y]);
      model.dispose();
    });
  });

  describe('masks', () => {
    test('p = 1 is no mask: createMask returns null', () => {
      assert.equal(createMask([20, 4, 12, 3], 1, 0), null);
      assert.equal(createMask([20, 4, 12, 3], 1, 12345), null);
    });

    test('an explicit mask keeping every index gives the same values as no mask, for every group', () => {
      const model = tanhSoftmax();
      const loss = perExampleLoss('categoricalCrossentropy');
      const size = model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
      const full: Mask = { p: 1, indices: Int32Array.from({ length: size }, (_, i) => i), size };
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const others = [1, 2].map((k) => ({ x: seededTensor([6, 5], 100 + k), y: oneHot(6, 3, k) }));
      const opts = defaultOpts({ otherBatches: others });
      const a = measureBatch({ model, loss, mask: null, eta: 1e-2 }, x, y, SAMPLE_GROUPS, opts);
      const b = measureBatch({ model, loss, mask: full, eta: 1e-2 }, x, y, SAMPLE_GROUPS, opts);
      for (const name of METRIC_NAMES) {
        if (name === 'kappaWStep') continue;
        const va = a.values[name];
        const vb = b.values[name];
        assert.ok(va && vb, `${name}: missing`);
        if (va.value === null) {
          assert.deepEqual(vb, va, `${name}: null without a mask, so with the full mask too`);
          continue;
        }
        near(`${name} (full mask vs none)`, vb.value, va.value, 1e-6);
      }
      tf.dispose([x, y, ...others.flatMap((o) => [o.x, o.y])]);
      model.dispose();
    });

    test('p = 0.3: deterministic per seed, ceil(p · size) ≥ 1 kept per variable', () => {
      const sizes = [20, 4, 12, 3, 1, 7];
      const m1 = createMask(sizes, 0.3, 42)!;
      const m2 = createMask(sizes, 0.3, 42)!;
      const m3 = createMask(sizes, 0.3, 43)!;
      assert.ok(m1 && m2 && m3);
      assert.deepEqual(Array.from(m1.indices), Array.from(m2.indices));
      assert.notDeepEqual(Array.from(m1.indices), Array.from(m3.indices));
      assert.equal(m1.size, sizes.reduce((a, b) => a + b, 0));
      assert.equal(m1.p, 0.3);
      let offset = 0;
      for (const s of sizes) {
        const kept = Array.from(m1.indices).filter((i) => i >= offset && i < offset + s);
        assert.equal(kept.length, Math.max(1, Math.ceil(0.3 * s)), `variable of size ${s}`);
        assert.equal(new Set(kept).size, kept.length, 'indices are distinct');
        offset += s;
      }
      const idx = Array.from(m1.indices);
      assert.deepEqual(idx, [...idx].sort((p, q) => p - q), 'indices are sorted');
    });
  });

  describe('weight sampling: per-example and random directions', () => {
    function sampleMetrics(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, opts: WeightSamplingOptions) {
      const work = new SharedWork(ctx, x, y, { weightSampling: opts, inputDirections: 4 });
      const s = sampleWeightPerturbation(work);
      work.dispose();
      return { sample: s, values: computeGroup('weightPerturbation', s) };
    }

    test('per-example (n = 2) matches the reference with directions ±η h_k/‖h_k‖', () => {
      const model = tanhSoftmax();
      const loss = perExampleLoss('categoricalCrossentropy');
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const eta = 1e-2;
      const { sample, values } = sampleMetrics({ model, loss, mask: null, eta }, x, y, { sampling: 'per-example', n: 2, seed: 0 });
      assert.equal(sample.omegaNorms.length, 4, 'two examples, both signs');
      for (const w of sample.omegaNorms) near('‖ω‖', w, eta, 1e-5);
      const r = toRefModel(model, 'categoricalCrossentropy');
      const xs = tensorRows(x);
      const ys = refTargets(y, 'categoricalCrossentropy');
      const directions = ref.perExampleDirections(ref.perExampleGrads(r, xs, ys), 2, eta);
      const want = ref.stepConsistencyW(r, xs, ys, { directions });
      for (const name of ['kappaW', 'cosSimW', 'diversityW', 'coherenceW'] as const) {
        near(name, values[name]?.value ?? null, want[name]!, 1e-4);
      }
      tf.dispose([x, y]);
      model.dispose();
    });

    test('random (n = 3): ‖ω‖∞ = η, reproducible per seed, finite metrics', () => {
      const model = tanhSoftmax();
      const base = perExampleLoss('categoricalCrossentropy');
      const thetaT = flatParams(model);
      const theta = thetaT.dataSync().slice();
      thetaT.dispose();
      // A loss that records the weights it is evaluated at: θ itself, or θ + ω_k.
      let seen: Float32Array[] = [];
      const spy: PerExampleLoss = (yt, yp) => {
        const p = flatParams(model);
        seen.push(p.dataSync().slice() as Float32Array);
        p.dispose();
        return base(yt, yp);
      };
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const eta = 1e-2;
      const run = (seed: number) => {
        seen = [];
        const out = sampleMetrics({ model, loss: spy, mask: null, eta }, x, y, { sampling: 'random', n: 3, seed });
        const omegas = seen
          .map((p) => Array.from(p, (v, i) => v - theta[i]))
          .filter((w) => w.some((v) => v !== 0));
        return { ...out, omegas };
      };
      const a = run(11);
      assert.equal(a.sample.omegaNorms.length, 3);
      assert.equal(a.omegas.length, 3, 'three perturbed gradient evaluations');
      for (const w of a.omegas) near('‖ω‖∞', ref.normInf(w), eta, 1e-4);
      for (const name of ['kappaW', 'cosSimW', 'diversityW', 'coherenceW'] as const) {
        const v = a.values[name];
        assert.ok(v && v.value !== null && Number.isFinite(v.value), `${name}: ${JSON.stringify(v)}`);
      }
      // Distinct draws.
      assert.ok(ref.norm(ref.sub(a.omegas[0], a.omegas[1])) > 1e-3 * eta, 'random directions repeat');
      const b = run(11);
      assert.deepEqual(b.omegas, a.omegas, 'same seed, same directions');
      assert.deepEqual(b.sample, a.sample, 'same seed, same sample');
      const c = run(12);
      assert.notDeepEqual(c.omegas, a.omegas, 'another seed, other directions');
      // θ is restored after every perturbation.
      const after = flatParams(model);
      assert.deepEqual(Array.from(after.dataSync()), Array.from(theta));
      after.dispose();
      tf.dispose([x, y]);
      model.dispose();
    });
  });

  describe('BatchNormalization', () => {
    function bnModel(): tf.LayersModel {
      const m = tf.sequential({ layers: [dense(4, 'linear', { inputShape: [5] }), tf.layers.batchNormalization(), tf.layers.activation({ activation: 'tanh' }), dense(3, 'softmax')] });
      setSeededWeights(m, 9);
      // moving variance must stay positive
      m.layers[1].setWeights(m.layers[1].getWeights().map((w, i) => (i === 3 ? tf.onesLike(w) : w)));
      return m;
    }
    const PASS_GROUPS = ['perExample', 'inputGradient', 'inputPerturbation'] as const;

    test('training mode: per-example metrics are null with a reason naming BatchNormalization', () => {
      const model = bnModel();
      const loss = perExampleLoss('categoricalCrossentropy');
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const m = measureBatch({ model, loss, mask: null, eta: 1e-3, training: true }, x, y, [...PASS_GROUPS], defaultOpts());
      for (const g of PASS_GROUPS) {
        for (const spec of metricsOfGroup(g)) {
          const v = m.values[spec.name];
          assert.ok(v, `${spec.name}: missing`);
          assert.equal(v.value, null, `${spec.name}: expected null, got ${v.value}`);
          assert.match(v.reason ?? '', /BatchNormalization/, `${spec.name}: reason ${v.reason}`);
        }
      }
      tf.dispose([x, y]);
      model.dispose();
    });

    test('inference mode: the batched pass (an affine map per channel), finite metrics', () => {
      const model = bnModel();
      const loss = perExampleLoss('categoricalCrossentropy');
      const x = seededTensor([6, 5], 100);
      const y = oneHot(6, 3);
      const m = measureBatch({ model, loss, mask: null, eta: 1e-3 }, x, y, [...PASS_GROUPS, 'weightPerturbation'], defaultOpts());
      assert.equal(m.perExamplePath?.path, 'batched');
      for (const name of ['coherence', 'stableRankW', 'rankW', 'stableRankX', 'rankX', 'kappaX', 'kappaW'] as const) {
        const v = val(m.values, name);
        assert.ok(Number.isFinite(v), `${name}: ${v}`);
      }
      tf.dispose([x, y]);
      model.dispose();
    });
  });

  test('no tensor leak over 100 measurements with every group on', () => {
    const model = tanhSoftmax();
    const loss = perExampleLoss('categoricalCrossentropy');
    const x = seededTensor([4, 5], 100);
    const y = oneHot(4, 3);
    const others = [1, 2].map((k) => ({ x: seededTensor([4, 5], 100 + k), y: oneHot(4, 3, k) }));
    const ctx: EngineContext = { model, loss, mask: createMask(model.trainableWeights.map((w) => w.read().size), 0.5, 1), eta: 1e-3 };
    const plain: EngineContext = { ...ctx, mask: null };
    const opts = defaultOpts({ otherBatches: others });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 0; i < 100; i++) {
      measureBatch(i % 4 < 2 ? ctx : plain, x, y, SAMPLE_GROUPS, i % 3 ? opts : { ...opts, weightSampling: { sampling: i % 2 ? 'random' : 'per-example', n: 2, seed: i } });
      counts.push(tf.memory().numTensors);
    }
    assert.ok(counts.every((c) => c === counts[0]), `tensor count grows: ${counts[0]} … ${counts[counts.length - 1]}`);
    assert.equal(tf.memory().numTensors, before, 'tensors left after the calls');
    tf.dispose([x, y, ...others.flatMap((o) => [o.x, o.y])]);
    model.dispose();
  });
});
