/**
 * The zero-cost proxies (src/fitness/proxies) against independent float64 computations: the
 * reference model's exact gradients (grad_norm, snip), Jacobians written out by hand or taken
 * from the reference model, eigenvalues by Jacobi rotations (jacov), activation codes and
 * exact integer determinants (naswot), and synflow's closed form on networks whose paths are all
 * positive. Every call is checked for tensor leaks and for leaving the weights bit for bit as
 * they were.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { UsageError } from '../src/errors.js';
import { PROXY_NAMES, computeProxies, computeProxy, type ProxyOptions } from '../src/fitness/proxies/index.js';
import type { MetricValue } from '../src/metrics/result.js';
import { jacobiEigenvalues } from './reference/jacobi.js';
import { exampleGrads, flattenParams, forward, paramInfo, type RefModel } from './reference/model.js';
import { oneHot, scalarRelErr, seededTensor, setSeededWeights, tensorRows, toRefModel } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Harness: every proxy call is leak-checked and must leave the weights untouched.

function weightBits(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => (w.read().dataSync() as Float32Array).slice());
}

function run(name: string, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts: ProxyOptions = {}): MetricValue {
  const before = weightBits(model);
  const tensors = tf.memory().numTensors;
  const result = computeProxy(name, model, x, y, opts);
  assert.equal(tf.memory().numTensors, tensors, `${name}: tensor leak`);
  assert.deepEqual(weightBits(model), before, `${name}: the weights changed`);
  if (result.value !== null) assert.ok(Number.isFinite(result.value), `${name}: ${result.value}`);
  return result;
}

function value(name: string, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts: ProxyOptions = {}): number {
  const r = run(name, model, x, y, opts);
  assert.ok(r.value !== null, `${name}: null (${r.reason})`);
  return r.value;
}

function near(label: string, got: number, want: number, tol: number): void {
  const err = scalarRelErr(got, want);
  assert.ok(err <= tol, `${label}: ${got} vs ${want} (relative error ${err.toExponential(2)} > ${tol})`);
}

// ---------------------------------------------------------------------------------------------
// Float64 helpers, independent of the implementation.

type Matrix = number[][];

const mat = (t: tf.Tensor): Matrix => t.arraySync() as Matrix;
const vec = (t: tf.Tensor): number[] => t.arraySync() as number[];
const absM = (a: Matrix): Matrix => a.map((r) => r.map(Math.abs));
const sum = (v: number[]): number => v.reduce((s, t) => s + t, 0);
const matVec = (a: Matrix, v: number[]): number[] => a.map((r) => sum(r.map((x, j) => x * v[j]!)));
const vecMat = (v: number[], a: Matrix): number[] => a[0]!.map((_, j) => sum(v.map((x, i) => x * a[i]![j]!)));
const ones = (n: number): number[] => new Array<number>(n).fill(1);

/** numpy.corrcoef of the rows. */
function corrcoef(rows: Matrix): Matrix {
  const centred = rows.map((r) => {
    const m = sum(r) / r.length;
    return r.map((v) => v - m);
  });
  const dot = (u: number[], v: number[]) => sum(u.map((x, i) => x * v[i]!));
  return centred.map((u) => centred.map((v) => dot(u, v) / Math.sqrt(dot(u, u) * dot(v, v))));
}

/** Mellor et al. v1: −Σ_j [log(σ_j + k) + 1/(σ_j + k)] over the eigenvalues of corrcoef(J). */
function jacovReference(jacobians: Matrix): number {
  const k = 1e-5;
  return -sum(jacobiEigenvalues(corrcoef(jacobians)).map((s) => Math.log(s + k) + 1 / (s + k)));
}

/** The exact determinant of a small integer matrix (Laplace expansion: integer arithmetic only). */
function exactDet(a: Matrix): number {
  if (a.length === 1) return a[0]![0]!;
  return sum(a[0]!.map((v, j) => (j % 2 ? -1 : 1) * v * exactDet(a.slice(1).map((r) => r.filter((_, c) => c !== j)))));
}

/** K_H[i][j] = number of units on which the codes agree (N_A − Hamming). */
function hammingKernel(codes: boolean[][]): Matrix {
  return codes.map((ci) => codes.map((cj) => ci.filter((v, u) => v === cj[u]).length));
}

/** ∂(Σ_c logit_c)/∂x of one example from the reference model: the output layer made linear and
 *  an MSE target placed so that ∂ℓ/∂output = 1 for every output (ℓ = Σ (o − t)²/K, t = o − K/2). */
function refLogitJacobian(ref: RefModel, x: number[]): number[] {
  const layers = ref.layers.map((l, i) => (i === ref.layers.length - 1 && l.kind !== 'flatten' ? { ...l, activation: 'linear' as const } : l));
  const linear: RefModel = { ...ref, layers, loss: 'meanSquaredError' };
  const out = forward(linear, x);
  return exampleGrads(linear, x, out.map((o) => o - out.length / 2)).dX;
}

/** The batch-mean loss gradient from the reference model, and the kernel slices of θ. */
function refMeanGradient(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) {
  const ref = toRefModel(model, 'categoricalCrossentropy');
  const xs = tensorRows(x);
  const ys = tensorRows(y);
  const grads = xs.map((xi, i) => exampleGrads(ref, xi, ys[i]!).dTheta);
  const mean = grads[0]!.map((_, p) => sum(grads.map((g) => g[p]!)) / grads.length);
  const kernels = paramInfo(ref).filter((p) => p.role === 'kernel');
  return { mean, theta: flattenParams(ref), kernels };
}

// ---------------------------------------------------------------------------------------------
// Models

const dense = (units: number, activation: string, extra: object = {}) => tf.layers.dense({ units, activation: activation as never, ...extra });

/** 6 → 8 relu → 3 softmax, seeded. */
function mlp(seed = 3): tf.LayersModel {
  const m = tf.sequential({ layers: [dense(8, 'relu', { inputShape: [6] }), dense(3, 'softmax')] });
  setSeededWeights(m, seed);
  return m;
}

function smallCnn(): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.flatten(),
      dense(3, 'softmax'),
    ],
  });
  setSeededWeights(m, 12);
  return m;
}

/** conv → BN → relu → conv(relu) → add → relu → max-pool → global average → dense softmax. */
function residual(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 2] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const stem = apply(tf.layers.activation({ activation: 'relu' }), apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), input)));
  const branch = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), stem);
  const merged = apply(tf.layers.reLU(), apply(tf.layers.add(), [stem, branch]));
  const pooled = apply(tf.layers.globalAveragePooling2d({}), apply(tf.layers.maxPooling2d({ poolSize: 2 }), merged));
  const model = tf.model({ inputs: input, outputs: apply(dense(3, 'softmax'), pooled) });
  setSeededWeights(model, 5);
  // BatchNormalization: positive variances, and statistics that are not the identity.
  const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  bn.setWeights([tf.fill([4], 1.5), tf.fill([4], 0.1), tf.fill([4], 0.2), tf.fill([4], 2)]);
  return model;
}

/** Concatenated ReLU, [relu(x), relu(−x)] on the last axis (Shang et al., ICML 2016). */
class CReLU extends tf.layers.Layer {
  static className = 'CReLU';
  override computeOutputShape(shape: tf.Shape): tf.Shape {
    return [...shape.slice(0, -1), 2 * (shape[shape.length - 1] as number)];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.concat([tf.relu(x), tf.relu(tf.neg(x))], -1));
  }
}

const batch = (shape: number[], seed: number) => seededTensor(shape, seed) as tf.Tensor;

describe('zero-cost proxies', () => {
  before(async () => {
    await useBackend('wasm');
  });

  test('params: trainable parameters counted by hand', () => {
    const x = batch([4, 6], 1);
    const y = oneHot(4, 3);
    assert.equal(value('params', mlp(), x, y), 6 * 8 + 8 + 8 * 3 + 3);
    const withBn = tf.sequential({ layers: [dense(8, 'relu', { inputShape: [6] }), tf.layers.batchNormalization(), dense(3, 'softmax')] });
    assert.equal(value('params', withBn, x, y), 83 + 2 * 8); // γ and β; the moving statistics are not trainable
  });

  test('grad_norm and snip equal the reference model\'s float64 gradients (Dense and Conv2D)', () => {
    const cases = [
      { model: mlp(), x: batch([5, 6], 2), y: oneHot(5, 3) },
      { model: smallCnn(), x: batch([4, 6, 6, 2], 4), y: oneHot(4, 3, 1) },
    ];
    for (const { model, x, y } of cases) {
      const { mean, theta, kernels } = refMeanGradient(model, x, y);
      const slice = (v: number[], p: { offset: number; size: number }) => v.slice(p.offset, p.offset + p.size);
      const gradNorm = sum(kernels.map((p) => Math.sqrt(sum(slice(mean, p).map((g) => g * g)))));
      const snip = sum(kernels.map((p) => sum(slice(mean, p).map((g, i) => Math.abs(g * theta[p.offset + i]!)))));
      near('grad_norm', value('grad_norm', model, x, y), gradNorm, 1e-5);
      near('snip', value('snip', model, x, y), snip, 1e-5);
    }
  });

  test('grad_norm keeps vanishing gradients (no float32 underflow of the squares)', () => {
    // No biases and inputs of size 1e-25: every weight gradient is ~1e-25, whose square underflows float32.
    const model = tf.sequential({ layers: [dense(8, 'relu', { inputShape: [6], useBias: false }), dense(3, 'softmax', { useBias: false })] });
    setSeededWeights(model, 3);
    const x = batch([5, 6], 2).mul(1e-25);
    const y = oneHot(5, 3);
    const { mean, kernels } = refMeanGradient(model, x, y);
    const want = sum(kernels.map((p) => Math.sqrt(sum(mean.slice(p.offset, p.offset + p.size).map((g) => g * g)))));
    assert.ok(want > 1e-27 && want < 1e-22, `test setup: ${want}`);
    near('grad_norm', value('grad_norm', model, x, y), want, 1e-5);
  });

  test('synflow: closed form on a relu net (the softmax is taken off, all paths positive)', () => {
    // R = 1ᵀ|W1||W2|1 + |b1|ᵀ|W2|1 + Σ|b2|. Layer 1: Σ W1 ∂R/∂W1 = P = 1ᵀ|W1||W2|1;
    // layer 2: Σ W2 ∂R/∂W2 = P + Q with Q = |b1|ᵀ|W2|1; biases are not scored: synflow = 2P + Q.
    const model = mlp();
    const [w1, b1, w2] = model.getWeights().map((w) => w.arraySync());
    const a2ones = matVec(absM(w2 as Matrix), ones(3));
    const P = sum(vecMat(ones(6), absM(w1 as Matrix)).map((v, j) => v * a2ones[j]!));
    const Q = sum((b1 as number[]).map((b, j) => Math.abs(b) * a2ones[j]!));
    near('synflow', value('synflow', model, batch([4, 6], 1), oneHot(4, 3)), 2 * P + Q, 1e-6);
  });

  test('the softmax is taken off wherever it is: a Dense or Conv2D activation, an Activation or Softmax layer', () => {
    const P_Q = (model: tf.LayersModel) => {
      const [w1, b1, w2] = model.getWeights().map((w) => w.arraySync());
      const a2ones = matVec(absM(w2 as Matrix), ones(3));
      return 2 * sum(vecMat(ones(6), absM(w1 as Matrix)).map((v, j) => v * a2ones[j]!)) + sum((b1 as number[]).map((b, j) => Math.abs(b) * a2ones[j]!));
    };
    for (const head of [[tf.layers.activation({ activation: 'softmax' })], [tf.layers.softmax()]]) {
      const model = tf.sequential({ layers: [dense(8, 'relu', { inputShape: [6] }), dense(3, 'linear'), ...head] });
      setSeededWeights(model, 3);
      near(`synflow (${head[0]!.getClassName()})`, value('synflow', model, batch([4, 6], 1), oneHot(4, 3)), P_Q(model), 1e-6);
    }
    // Conv2D: the logits computed by hand-written ops must equal the layer's own linear output.
    const convHead = (activation: string) => [
      tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', activation: activation as never }),
    ];
    const fused = tf.sequential({ layers: convHead('softmax') });
    const split = tf.sequential({ layers: [...convHead('linear'), tf.layers.softmax()] });
    setSeededWeights(fused, 8);
    setSeededWeights(split, 8);
    const x = batch([3, 5, 5, 2], 3);
    const y = tf.zeros([3, 2, 2, 3]);
    for (const name of ['synflow', 'jacov']) near(`${name} (Conv2D softmax)`, value(name, fused, x, y), value(name, split, x, y), 1e-6);
  });

  test('synflow: a linear net without biases is (number of layers) · R (Euler)', () => {
    const model = tf.sequential({
      layers: [dense(5, 'linear', { inputShape: [4], useBias: false }), dense(6, 'linear', { useBias: false }), dense(2, 'linear', { useBias: false })],
    });
    setSeededWeights(model, 9);
    const [a1, a2, a3] = model.getWeights().map((w) => absM(mat(w)));
    const R = sum(vecMat(vecMat(vecMat(ones(4), a1!), a2!), a3!));
    near('synflow', value('synflow', model, batch([3, 4], 1), tf.zeros([3, 2])), 3 * R, 1e-6);
  });

  test('synflow: BatchNormalization is skipped, whatever its parameters', () => {
    const model = tf.sequential({ layers: [dense(8, 'relu', { inputShape: [6] }), tf.layers.batchNormalization(), dense(3, 'softmax')] });
    setSeededWeights(model, 3);
    model.layers[1]!.setWeights([tf.fill([8], 2.5), tf.fill([8], -0.7), tf.fill([8], 0.3), tf.fill([8], 4)]);
    const w1 = absM(mat(model.layers[0]!.getWeights()[0]!));
    const c1 = vec(model.layers[0]!.getWeights()[1]!).map(Math.abs);
    const a2ones = matVec(absM(mat(model.layers[2]!.getWeights()[0]!)), ones(3));
    const P = sum(vecMat(ones(6), w1).map((v, j) => v * a2ones[j]!));
    const Q = sum(c1.map((b, j) => b * a2ones[j]!));
    for (const training of [true, false]) near('synflow', value('synflow', model, batch([4, 6], 1), oneHot(4, 3), { training }), 2 * P + Q, 1e-6);
  });

  test('synflow: float32 overflow is null with the reason, never Infinity', () => {
    const model = tf.sequential({
      layers: Array.from({ length: 14 }, (_, i) => dense(64, 'relu', { kernelInitializer: tf.initializers.constant({ value: 10 }), ...(i === 0 ? { inputShape: [64] } : {}) })),
    });
    const r = run('synflow', model, batch([2, 64], 1), tf.zeros([2, 64])); // R = 64 · 640^14 ≈ 1e41
    assert.equal(r.value, null);
    assert.match(r.reason!, /overflows float32/);
  });

  test('jacov equals −Σ[log(σ+k) + 1/(σ+k)] of explicit Jacobians (by hand for Dense, reference model for Conv2D)', () => {
    const model = mlp();
    const x = batch([4, 6], 7);
    const [w1, b1, w2] = model.getWeights().map((w) => w.arraySync());
    const w2sum = matVec(w2 as Matrix, ones(3)); // ∂Σ_c logit_c / ∂a1_j
    const byHand = tensorRows(x).map((xi) => {
      const on = vecMat(xi, w1 as Matrix).map((z, j) => z + (b1 as number[])[j]! > 0);
      return (w1 as Matrix).map((row) => sum(row.map((w, j) => (on[j] ? w * w2sum[j]! : 0))));
    });
    near('jacov (dense)', value('jacov', model, x, oneHot(4, 3)), jacovReference(byHand), 1e-5);

    const cnn = smallCnn();
    const xc = batch([4, 6, 6, 2], 8);
    const ref = toRefModel(cnn, 'categoricalCrossentropy');
    const jacobians = tensorRows(xc).map((xi) => refLogitJacobian(ref, xi));
    near('jacov (conv)', value('jacov', cnn, xc, oneHot(4, 3)), jacovReference(jacobians), 1e-5);
  });

  test('jacov is null when a correlation is undefined or the batch has one example', () => {
    const oneInput = tf.sequential({ layers: [dense(3, 'relu', { inputShape: [1] }), dense(2, 'softmax')] });
    setSeededWeights(oneInput, 2);
    const r = run('jacov', oneInput, batch([3, 1], 1), oneHot(3, 2)); // a Jacobian of one entry has no variance
    assert.equal(r.value, null);
    assert.match(r.reason!, /constant/);
    assert.match(run('jacov', mlp(), batch([1, 6], 1), oneHot(1, 3)).reason!, /at least 2 examples/);
  });

  test('naswot: log|det K_H| of the ReLU codes, with K_H and its determinant computed exactly', () => {
    const model = mlp();
    const x = batch([4, 6], 12);
    const [w1, b1] = model.getWeights().map((w) => w.arraySync());
    const codes = tensorRows(x).map((xi) => vecMat(xi, w1 as Matrix).map((z, j) => z + (b1 as number[])[j]! > 0));
    const det = exactDet(hammingKernel(codes));
    assert.notEqual(det, 0, 'test setup: the codes must give a non-singular K_H');
    near('naswot', value('naswot', model, x, oneHot(4, 3)), Math.log(Math.abs(det)), 1e-12);
  });

  test('naswot: duplicate inputs make K_H singular: null with the reason', () => {
    const rows = tensorRows(batch([4, 6], 12));
    rows[3] = rows[1]!;
    const r = run('naswot', mlp(), tf.tensor2d(rows), oneHot(4, 3));
    assert.equal(r.value, null);
    assert.match(r.reason!, /examples 1 and 3 have the same activation code/);
  });

  test('naswot: BatchNormalization codes in training mode (batch statistics) and inference mode', () => {
    const model = tf.sequential({
      layers: [dense(8, 'linear', { inputShape: [6] }), tf.layers.batchNormalization(), tf.layers.activation({ activation: 'relu' }), dense(3, 'softmax')],
    });
    setSeededWeights(model, 4);
    model.layers[1]!.setWeights([tf.ones([8]), tf.zeros([8]), tf.zeros([8]), tf.ones([8])]);
    const x = batch([5, 6], 18);
    const [w1, b1] = model.layers[0]!.getWeights().map((w) => w.arraySync());
    const z = tensorRows(x).map((xi) => vecMat(xi, w1 as Matrix).map((v, j) => v + (b1 as number[])[j]!));
    const batchMean = z[0]!.map((_, j) => sum(z.map((r) => r[j]!)) / z.length);
    const trainCodes = z.map((r) => r.map((v, j) => v > batchMean[j]!)); // γ = 1, β = 0
    const inferCodes = z.map((r) => r.map((v) => v > 0)); // moving mean 0, variance 1
    const y = oneHot(5, 3);
    near('naswot (training)', value('naswot', model, x, y), Math.log(Math.abs(exactDet(hammingKernel(trainCodes)))), 1e-12);
    near('naswot (inference)', value('naswot', model, x, y, { training: false }), Math.log(Math.abs(exactDet(hammingKernel(inferCodes)))), 1e-12);
  });

  test('naswot: a CReLU layer codes each unit twice, [x > 0, −x > 0]', () => {
    const model = tf.sequential({ layers: [dense(8, 'linear', { inputShape: [6] }), new CReLU(), dense(3, 'softmax')] });
    setSeededWeights(model, 6);
    const x = batch([4, 6], 14);
    const [w1, b1] = model.layers[0]!.getWeights().map((w) => w.arraySync());
    const codes = tensorRows(x).map((xi) => {
      const z = vecMat(xi, w1 as Matrix).map((v, j) => v + (b1 as number[])[j]!);
      return [...z.map((v) => v > 0), ...z.map((v) => -v > 0)];
    });
    const det = exactDet(hammingKernel(codes));
    assert.notEqual(det, 0, 'test setup: the codes must give a non-singular K_H');
    near('naswot', value('naswot', model, x, oneHot(4, 3)), Math.log(Math.abs(det)), 1e-12);
  });

  test('naswot: a model without rectified units has no score', () => {
    const model = tf.sequential({ layers: [dense(4, 'tanh', { inputShape: [6] }), dense(3, 'softmax')] });
    const r = run('naswot', model, batch([3, 6], 1), oneHot(3, 3));
    assert.equal(r.value, null);
    assert.match(r.reason!, /no ReLU units/);
  });

  test('Conv2D and residual (add, BatchNormalization, pooling) models: every proxy finite, weights and moving statistics untouched, no leak', () => {
    const cases = [
      { model: smallCnn(), x: batch([6, 6, 6, 2], 21), y: oneHot(6, 3) },
      { model: residual(), x: batch([6, 8, 8, 2], 22), y: oneHot(6, 3) },
    ];
    for (const { model, x, y } of cases) {
      for (const training of [true, false]) {
        for (const name of PROXY_NAMES) value(name, model, x, y, { training });
      }
    }
  });

  test('computeProxies gives every proxy by name', () => {
    const [model, x, y] = [mlp(), batch([4, 6], 1), oneHot(4, 3)];
    const tensors = tf.memory().numTensors;
    const all = computeProxies(model, x, y);
    assert.equal(tf.memory().numTensors, tensors);
    assert.deepEqual(Object.keys(all), PROXY_NAMES);
    for (const name of PROXY_NAMES) assert.deepEqual(all[name], computeProxy(name, model, x, y));
  });

  test('bad input is a UsageError with one line', () => {
    const model = mlp();
    const x = batch([4, 6], 1);
    const y = oneHot(4, 3);
    const bad: [() => unknown, RegExp][] = [
      [() => computeProxy('zen', model, x, y), /unknown proxy 'zen'/],
      [() => computeProxy('snip', model, x, y, { loss: 'hinge' }), /unknown loss 'hinge'/],
      [() => computeProxy('snip', model, batch([4, 5], 1), y), /example shape \[5\], the model expects \[6\]/],
      [() => computeProxy('snip', model, x, oneHot(3, 3)), /4 examples but y has 3/],
      [() => computeProxy('snip', model, x, oneHot(4, 2)), /y has example shape \[2\]/],
      [() => computeProxy('snip', tf.sequential(), x, y), /one input and one output, got 0 and 0/],
    ];
    for (const [call, message] of bad) {
      assert.throws(call, (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'));
    }
  });
});
