/**
 * Self-tests of the float64 reference (test/reference/): the backward pass against central
 * finite differences, and the metrics on closed-form cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clipBounds, exampleGrads, exampleLoss, flattenParams, forward, numParams, outputShape, paramInfo, withParams,
  type Activation, type LossName, type RefLayer, type RefModel, type Target,
} from './reference/model.js';
import {
  batchGrad, batchLoss, coherence, confusion, diversity, expectedGaussianStableRank, gaussian,
  gradientDirections, inputGrads, kappaWStep, kappaX, maskFromIndices, mulberry32, noiseScale, norm,
  perExampleDirections, perExampleGrads, rankW, rankX, singularValues, stableRank, stableRankW, stableRankX,
  stepConsistencyW, sub, add, scale, dot,
} from './reference/metrics.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function rng(seed: number): () => number {
  const g = gaussian(mulberry32(seed));
  return () => g();
}
const randVec = (r: () => number, n: number, s = 1): number[] => Array.from({ length: n }, () => r() * s);
const randMat = (r: () => number, a: number, b: number, s = 1): number[][] => Array.from({ length: a }, () => randVec(r, b, s));
function randKernel(r: () => number, fh: number, fw: number, cin: number, cout: number, s = 0.5): number[][][][] {
  return Array.from({ length: fh }, () => Array.from({ length: fw }, () => randMat(r, cin, cout, s)));
}

function assertClose(actual: number, expected: number, tol: number, msg = ''): void {
  const err = Math.abs(actual - expected);
  assert.ok(err <= tol * Math.max(1, Math.abs(expected)), `${msg} ${actual} vs ${expected} (err ${err})`);
}
function assertVecClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, msg = ''): void {
  assert.equal(a.length, b.length, `${msg} length`);
  const scaleN = Math.max(1, norm(b));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol * scaleN, `${msg}[${i}]: ${a[i]} vs ${b[i]} (tol ${tol * scaleN})`);
  }
}

/** Central finite differences of one example's loss w.r.t. θ and x. */
function finiteDiff(model: RefModel, x: number[], y: Target, h = 1e-6): { dTheta: number[]; dX: number[] } {
  const theta = flattenParams(model);
  const dTheta = theta.map((_, j) => {
    const tp = theta.slice(); tp[j]! += h;
    const tm = theta.slice(); tm[j]! -= h;
    return (exampleLoss(withParams(model, tp), x, y) - exampleLoss(withParams(model, tm), x, y)) / (2 * h);
  });
  const dX = x.map((_, j) => {
    const xp = x.slice(); xp[j]! += h;
    const xm = x.slice(); xm[j]! -= h;
    return (exampleLoss(model, xp, y) - exampleLoss(model, xm, y)) / (2 * h);
  });
  return { dTheta, dX };
}

function checkGrads(model: RefModel, x: number[], y: Target, msg: string): void {
  const g = exampleGrads(model, x, y);
  assert.equal(g.dTheta.length, numParams(model));
  assert.equal(g.dX.length, x.length);
  assertClose(g.loss, exampleLoss(model, x, y), 1e-14, `${msg} loss`);
  const fd = finiteDiff(model, x, y);
  assertVecClose(g.dTheta, fd.dTheta, 1e-7, `${msg} dTheta`);
  assertVecClose(g.dX, fd.dX, 1e-7, `${msg} dX`);
}

function randomTarget(r: () => number, model: RefModel): Target {
  const os = outputShape(model);
  const K = os[os.length - 1]!;
  const P = os.reduce((a, b) => a * b, 1) / K;
  if (model.loss === 'meanSquaredError') return randVec(r, P * K);
  const cls = Array.from({ length: P }, () => Math.floor(mulberry32(Math.floor(Math.abs(r()) * 1e6))() * K));
  if (model.loss === 'sparseCategoricalCrossentropy') return P === 1 ? cls[0]! : cls;
  const t = new Array<number>(P * K).fill(0);
  cls.forEach((c, p) => { t[p * K + c] = 1; });
  return t;
}

// ---------------------------------------------------------------------------------------------
// Backward pass vs finite differences

const ACTS: Activation[] = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax'];
const LOSSES: LossName[] = ['meanSquaredError', 'categoricalCrossentropy', 'sparseCategoricalCrossentropy'];

test('dense: backward pass matches finite differences for every hidden activation and loss', () => {
  const r = rng(1);
  for (const hidden of ACTS) {
    for (const loss of LOSSES) {
      // crossentropies need a probability-like output: softmax or sigmoid last
      const lastActs: Activation[] = loss === 'meanSquaredError' ? ACTS : ['softmax', 'sigmoid'];
      for (const last of lastActs) {
        const model: RefModel = {
          inputShape: [4],
          loss,
          layers: [
            { kind: 'dense', W: randMat(r, 4, 5, 0.7), b: randVec(r, 5, 0.3), activation: hidden },
            { kind: 'dense', W: randMat(r, 5, 3, 0.7), b: randVec(r, 3, 0.3), activation: last },
          ],
        };
        const x = randVec(r, 4);
        checkGrads(model, x, randomTarget(r, model), `${hidden}/${last}/${loss}`);
      }
    }
  }
});

test('dense without bias, and a dense layer on a rank-3 input (acts on the last axis)', () => {
  const r = rng(2);
  for (const loss of LOSSES) {
    const model: RefModel = {
      inputShape: [2, 3, 2],
      loss,
      layers: [
        { kind: 'dense', W: randMat(r, 2, 4, 0.7), activation: 'tanh' },
        { kind: 'dense', W: randMat(r, 4, 3, 0.7), b: randVec(r, 3, 0.3), activation: 'softmax' },
      ],
    };
    assert.deepEqual(outputShape(model), [2, 3, 3]);
    assert.equal(numParams(model), 8 + 12 + 3);
    checkGrads(model, randVec(r, 12), randomTarget(r, model), `rank3/${loss}`);
  }
});

test('conv2d valid/same, stride 1/2, odd and even kernels: backward matches finite differences', () => {
  const r = rng(3);
  const cases: { padding: 'valid' | 'same'; strides: [number, number]; f: [number, number]; hw: [number, number] }[] = [
    { padding: 'valid', strides: [1, 1], f: [3, 3], hw: [5, 5] },
    { padding: 'valid', strides: [2, 2], f: [3, 2], hw: [6, 5] },
    { padding: 'same', strides: [1, 1], f: [3, 3], hw: [4, 5] },
    { padding: 'same', strides: [2, 2], f: [3, 3], hw: [5, 6] },
    { padding: 'same', strides: [2, 1], f: [2, 2], hw: [6, 5] },
  ];
  for (const c of cases) {
    for (const act of ['relu', 'tanh'] as Activation[]) {
      for (const loss of LOSSES) {
        const layers: RefLayer[] = [
          { kind: 'conv2d', W: randKernel(r, c.f[0], c.f[1], 2, 3), b: randVec(r, 3, 0.2), strides: c.strides, padding: c.padding, activation: act },
          { kind: 'flatten' },
        ];
        const base: RefModel = { inputShape: [c.hw[0], c.hw[1], 2], loss, layers };
        const flat = outputShape(base)[0]!;
        layers.push({ kind: 'dense', W: randMat(r, flat, 3, 0.3), b: randVec(r, 3, 0.1), activation: loss === 'meanSquaredError' ? 'linear' : 'softmax' });
        const model: RefModel = { ...base, layers };
        checkGrads(model, randVec(r, c.hw[0] * c.hw[1] * 2), randomTarget(r, model), `conv ${JSON.stringify(c)} ${act} ${loss}`);
      }
    }
  }
});

test('conv2d output shapes follow TensorFlow padding rules', () => {
  const mk = (hw: [number, number], f: number, s: number, padding: 'valid' | 'same'): number[] => outputShape({
    inputShape: [hw[0], hw[1], 1], loss: 'meanSquaredError',
    layers: [{ kind: 'conv2d', W: randKernel(rng(0), f, f, 1, 2), strides: [s, s], padding }],
  });
  assert.deepEqual(mk([5, 6], 3, 2, 'same'), [3, 3, 2]);
  assert.deepEqual(mk([5, 6], 3, 2, 'valid'), [2, 2, 2]);
  assert.deepEqual(mk([7, 7], 3, 1, 'valid'), [5, 5, 2]);
  assert.deepEqual(mk([4, 4], 2, 2, 'same'), [2, 2, 2]);
});

test('conv2d forward by hand: 1 channel, 2x2 kernel, same padding puts the extra pixel bottom/right', () => {
  // input 2x2 [[1,2],[3,4]], kernel [[1,10],[100,1000]], same, stride 1 → out 2x2; pad bottom/right
  const model: RefModel = {
    inputShape: [2, 2, 1], loss: 'meanSquaredError',
    layers: [{ kind: 'conv2d', W: [[[[1]], [[10]]], [[[100]], [[1000]]]], padding: 'same' }],
  };
  // out[0,0] = 1*1 + 2*10 + 3*100 + 4*1000 = 4321; out[0,1] = 2*1 + 4*100 = 402
  // out[1,0] = 3*1 + 4*10 = 43; out[1,1] = 4
  assert.deepEqual(forward(model, [1, 2, 3, 4]), [4321, 402, 43, 4]);
});

test('categoricalCrossentropy: clipped probabilities pass no gradient (matches finite differences)', () => {
  // sigmoid outputs; the target class's normalised probability is far below 1e-7 → clipped
  const model: RefModel = {
    inputShape: [2], loss: 'categoricalCrossentropy',
    layers: [{ kind: 'dense', W: [[-20, 5, 0.3], [-10, 1, -0.2]], b: [-5, 2, 0.1], activation: 'sigmoid' }],
  };
  const x = [1, 0.5];
  const y = [1, 0, 0];
  const g = exampleGrads(model, x, y);
  assertClose(g.loss, -Math.log(Math.fround(1e-7)), 1e-14, 'clipped loss');
  assert.ok(g.dTheta.every((v) => v === 0), 'zero weight gradient when the target prob is clipped');
  checkGrads(model, x, y, 'clipped cce');
  // softmax with a near-certain correct class: 1 − 1e-7 clip → gradient exactly zero
  const sm: RefModel = {
    inputShape: [2], loss: 'categoricalCrossentropy',
    layers: [{ kind: 'dense', W: [[30, 0], [0, 0]], b: [0, 0], activation: 'softmax' }],
  };
  const gs = exampleGrads(sm, [1, 0], [1, 0]);
  assert.ok(gs.dTheta.every((v) => v === 0));
  // tfjs' upper bound is float32(1 − 1e-7) = 1 − 2⁻²³
  assertClose(gs.loss, -Math.log(1 - 2 ** -23), 1e-14);
});

test('clip bounds are the float32-rounded epsilon and 1 − epsilon', () => {
  assert.deepEqual(clipBounds(), [Math.fround(1e-7), 1 - 2 ** -23]);
});

test('categoricalCrossentropy normalises by the output sum (gradient through the normalisation)', () => {
  // linear, positive outputs, not summing to 1
  const model: RefModel = {
    inputShape: [2], loss: 'categoricalCrossentropy',
    layers: [{ kind: 'dense', W: [[1, 0.5, 0.2], [0.3, 1, 0.1]], b: [1, 1, 1] }],
  };
  const x = [0.5, 1];
  const out = forward(model, x);
  const s = out.reduce((a, b) => a + b, 0);
  assertClose(exampleLoss(model, x, [0, 1, 0]), -Math.log(out[1]! / s), 1e-14);
  // soft targets are allowed too
  checkGrads(model, x, [0.2, 0.5, 0.3], 'normalised cce soft target');
});

test('sparseCategoricalCrossentropy equals categoricalCrossentropy with one-hot targets (no clipping)', () => {
  const r = rng(5);
  const layers: RefLayer[] = [{ kind: 'dense', W: randMat(r, 3, 4), b: randVec(r, 4), activation: 'softmax' }];
  const sparse: RefModel = { inputShape: [3], loss: 'sparseCategoricalCrossentropy', layers };
  const cat: RefModel = { ...sparse, loss: 'categoricalCrossentropy' };
  const x = randVec(r, 3);
  const a = exampleGrads(sparse, x, 2);
  const b = exampleGrads(cat, x, [0, 0, 1, 0]);
  assertClose(a.loss, b.loss, 1e-14);
  assertVecClose(a.dTheta, b.dTheta, 1e-13);
  // class indices are floored, as tfjs casts floor(target) to int32
  assertClose(exampleLoss(sparse, x, 2.7), a.loss, 0);
  // sparse clips the raw output before normalising: an output of exactly 0 becomes 1e-7
  const lin: RefModel = { inputShape: [1], loss: 'sparseCategoricalCrossentropy', layers: [{ kind: 'dense', W: [[1, 0]], b: [0, 0] }] };
  // output [0.5, 0]: clip → [0.5, e]; normalise → q1 = e / (0.5 + e), e = float32(1e-7)
  const e = Math.fround(1e-7);
  assertClose(exampleLoss(lin, [0.5], 1), -Math.log(e / (0.5 + e)), 1e-14);
  // the raw 0 sits outside (0 < 1e-7), so its gradient is blocked by the first clip
  const gl = exampleGrads(lin, [0.5], 1);
  assert.equal(gl.dTheta[1], 0); // dW[0][1]
  assert.equal(gl.dTheta[3], 0); // db[1]
});

test('linear model + MSE: hand-computed loss, h_i and g_i', () => {
  const model: RefModel = {
    inputShape: [2], loss: 'meanSquaredError',
    layers: [{ kind: 'dense', W: [[0.5, -1], [2, 0]], b: [0.1, 0.2] }],
  };
  // p = [1*0.5 + 2*2 + 0.1, -1 + 0 + 0.2] = [4.6, -0.8]; r = p − t = [4.6, -1.8]
  const g = exampleGrads(model, [1, 2], [0, 1]);
  assertClose(g.loss, (4.6 ** 2 + 1.8 ** 2) / 2, 1e-14);
  // dW[i][o] = x_i * 2 r_o / 2 = x_i r_o (row-major [in][out]), then db = r
  assertVecClose(g.dTheta, [4.6, -1.8, 9.2, -3.6, 4.6, -1.8], 1e-14);
  // dX_i = Σ_o W[i][o] r_o
  assertVecClose(g.dX, [0.5 * 4.6 + 1.8, 2 * 4.6], 1e-14);
  assert.deepEqual(paramInfo(model).map((p) => [p.role, p.shape, p.offset]), [['kernel', [2, 2], 0], ['bias', [2], 4]]);
});

test('parameter order: per layer kernel (row-major) then bias; withParams round-trips', () => {
  const r = rng(6);
  const model: RefModel = {
    inputShape: [4, 4, 1], loss: 'meanSquaredError',
    layers: [
      { kind: 'conv2d', W: randKernel(r, 2, 2, 1, 2), b: [7, 8], strides: [2, 2], padding: 'valid', activation: 'relu' },
      { kind: 'flatten' },
      { kind: 'dense', W: randMat(r, 8, 1), activation: 'linear' },
    ],
  };
  const theta = flattenParams(model);
  assert.equal(theta.length, 8 + 2 + 8);
  assert.deepEqual(theta.slice(8, 10), [7, 8]);
  const conv = model.layers[0] as { W: number[][][][] };
  assert.equal(theta[((1 * 2 + 0) * 1 + 0) * 2 + 1], conv.W[1]![0]![0]![1]);
  assert.deepEqual(flattenParams(withParams(model, theta)), theta);
  const shifted = withParams(model, theta.map((v) => v + 1));
  assert.deepEqual(flattenParams(model), theta, 'withParams does not mutate the original');
  assert.deepEqual(flattenParams(shifted), theta.map((v) => v + 1));
});

// ---------------------------------------------------------------------------------------------
// Metrics

function linearBatch(): { model: RefModel; xs: number[][]; ys: number[][] } {
  const r = rng(11);
  const model: RefModel = {
    inputShape: [3], loss: 'meanSquaredError',
    layers: [{ kind: 'dense', W: randMat(r, 3, 2), b: randVec(r, 2) }],
  };
  const xs = Array.from({ length: 5 }, () => randVec(r, 3));
  const ys = Array.from({ length: 5 }, () => randVec(r, 2));
  return { model, xs, ys };
}

test('batchGrad is the mean of per-example gradients and the gradient of the batch loss', () => {
  const { model, xs, ys } = linearBatch();
  const hbar = batchGrad(model, xs, ys);
  const theta = flattenParams(model);
  const h = 1e-6;
  const fd = theta.map((_, j) => {
    const tp = theta.slice(); tp[j]! += h;
    const tm = theta.slice(); tm[j]! -= h;
    return (batchLoss(withParams(model, tp), xs, ys) - batchLoss(withParams(model, tm), xs, ys)) / (2 * h);
  });
  assertVecClose(hbar, fd, 1e-8);
});

test('step-consistency on a quadratic loss matches the exact Hessian formulas', () => {
  const { model, xs, ys } = linearBatch();
  // MSE on a linear model: h̄(θ + ω) = h̄(θ) + Hω exactly, with H block-diagonal per output o:
  // H_o = (2/K) mean_i [x_i; 1][x_i; 1]ᵀ over (W[:, o], b[o]).
  const K = 2, nin = 3;
  const Hv = (w: number[]): number[] => {
    const out = new Array<number>(w.length).fill(0);
    for (const x of xs) {
      const z = [...x, 1];
      for (let o = 0; o < K; o++) {
        // coordinates of (W[:, o], b[o]) in θ: W[i][o] at i*K + o, b[o] at nin*K + o
        const idx = [...Array.from({ length: nin }, (_, i) => i * K + o), nin * K + o];
        const s = idx.reduce((a, id, j) => a + z[j]! * w[id]!, 0);
        idx.forEach((id, j) => { out[id]! += ((2 / K) * z[j]! * s) / xs.length; });
      }
    }
    return out;
  };
  const h0 = batchGrad(model, xs, ys);
  const theta = flattenParams(model);
  const eta = 1e-3;
  const [w] = gradientDirections(h0, eta)!;
  const Hw = Hv(w!);
  const m = stepConsistencyW(model, xs, ys, { eta });
  assertClose(m.kappaW!, (norm(Hw) * norm(theta)) / (norm(w!) * norm(h0)), 1e-7, 'kappaW');
  const n0 = dot(h0, h0), nH = dot(Hw, Hw);
  assertClose(m.diversityW!, 0.5 + nH / (2 * n0), 1e-9, 'diversityW');
  assertClose(m.coherenceW!, n0 / (n0 + nH), 1e-9, 'coherenceW');
  const cosMinus = dot(sub(h0, Hw), h0) / (norm(sub(h0, Hw)) * norm(h0));
  const cosPlus = dot(add(h0, Hw), h0) / (norm(add(h0, Hw)) * norm(h0));
  assertClose(m.cosSimW!, Math.min(cosMinus, cosPlus), 1e-12, 'cosSimW');
  // explicit directions equal to the gradient ones give the same numbers
  const m2 = stepConsistencyW(model, xs, ys, { directions: gradientDirections(h0, eta)! });
  assertClose(m2.kappaW!, m.kappaW!, 1e-14);
  // per-example directions: ±η h_k/‖h_k‖, norm η
  const dirs = perExampleDirections(perExampleGrads(model, xs, ys), 2, eta);
  assert.equal(dirs.length, 4);
  for (const d of dirs) assertClose(norm(d), eta, 1e-14);
  const m3 = stepConsistencyW(model, xs, ys, { directions: dirs });
  const expected = Math.max(...dirs.map((d) => (norm(Hv(d)) * norm(theta)) / (eta * norm(h0))));
  assertClose(m3.kappaW!, expected, 1e-7, 'kappaW per-example');
  // a full mask is no mask
  const full = maskFromIndices(model, paramInfo(model).map((p) => Array.from({ length: p.size }, (_, j) => j)));
  assertClose(stepConsistencyW(model, xs, ys, { mask: full }).kappaW!, m.kappaW!, 1e-14);
  // a mask changes the answer and keeps dropped coordinates out of every vector
  const half = maskFromIndices(model, [[0, 3], [1]]);
  const mm = stepConsistencyW(model, xs, ys, { mask: half });
  assert.ok(mm.kappaW !== null && Math.abs(mm.kappaW - m.kappaW!) > 1e-6);
});

test('step-consistency: null when h̄ = 0 (exact fit)', () => {
  const model: RefModel = { inputShape: [1], loss: 'meanSquaredError', layers: [{ kind: 'dense', W: [[2]], b: [1] }] };
  const m = stepConsistencyW(model, [[1], [2]], [[3], [5]]);
  assert.deepEqual(m, { kappaW: null, cosSimW: null, diversityW: null, coherenceW: null });
});

test('kappaWStep: hand example and null cases', () => {
  // ‖Δh‖ = 1, ‖θ‖ = 5, ‖Δθ‖ = 0.5, ‖h‖ = 1 → 10
  assertClose(kappaWStep([1, 0], [1, 1], [3, 4], [3, 4.5])!, 10, 1e-14);
  assert.equal(kappaWStep([1, 0], [1, 1], [3, 4], [3, 4]), null);
  assert.equal(kappaWStep([0, 0], [1, 1], [3, 4], [3, 5]), null);
});

test('kappaX on a 1-D linear model matches a hand formula; exact fits are left out; all-zero is null', () => {
  // ℓ = (w x + c − t)²: h = [2 x r, 2 r], g = 2 r w, r = w x + c − t
  const w = 1.5, c = -0.5, eta = 1e-3;
  const model: RefModel = { inputShape: [1], loss: 'meanSquaredError', layers: [{ kind: 'dense', W: [[w]], b: [c] }] };
  const xs = [[1], [2], [-1]];
  const ts = [0.3, 2.5 /* exact fit: 1.5*2 − 0.5 */, 1];
  const hOf = (x: number, t: number): number[] => { const r = w * x + c - t; return [2 * x * r, 2 * r]; };
  const gOf = (x: number, t: number): number => 2 * (w * x + c - t) * w;
  // directions from the first n = 2 examples: ±η sign(g_k); example 1 has g = 0 → skipped
  const deltas = [0].flatMap((k) => [eta * Math.sign(gOf(xs[k]![0]!, ts[k]!)), -eta * Math.sign(gOf(xs[k]![0]!, ts[k]!))]);
  let total = 0, count = 0;
  xs.forEach(([x], i) => {
    const h0 = hOf(x!, ts[i]!);
    if (norm(h0) === 0) return; // example 1 left out
    const best = Math.max(...deltas.map((d) => (norm(sub(hOf(x! + d, ts[i]!), h0)) * Math.abs(x!)) / (Math.abs(d) * norm(h0))));
    total += best; count++;
  });
  assert.equal(count, 2);
  const ys = ts.map((t) => [t]);
  assertClose(kappaX(model, xs, ys, { n: 2, eta })!, total / count, 1e-10);
  // default n = min(b, 4) = 3 adds example 2's directions (same signs here up to ±)
  assert.ok(kappaX(model, xs, ys) !== null);
  // every example fitted exactly: no direction → null
  assert.equal(kappaX(model, [[1], [2]], [[1], [2.5]]), null);
});

test('kappaX on a random small MLP equals the definition (direct recomputation per example)', () => {
  const r = rng(21);
  const model: RefModel = {
    inputShape: [3], loss: 'sparseCategoricalCrossentropy',
    layers: [
      { kind: 'dense', W: randMat(r, 3, 4), b: randVec(r, 4), activation: 'tanh' },
      { kind: 'dense', W: randMat(r, 4, 3), b: randVec(r, 3), activation: 'softmax' },
    ],
  };
  const xs = Array.from({ length: 6 }, () => randVec(r, 3));
  const ys = [0, 1, 2, 0, 1, 2];
  const v = kappaX(model, xs, ys)!;
  assert.ok(Number.isFinite(v) && v > 0);
  // n = 1 gives at most the n = 4 value (fewer directions, max over a subset)
  assert.ok(kappaX(model, xs, ys, { n: 1 })! <= v + 1e-12);
  // input gradients have the input's size
  assert.equal(inputGrads(model, xs, ys)[0]!.length, 3);
});

test('stable rank: rank-1 is 1, orthogonal equal columns give b, a 2x2 by hand, wide = tall', () => {
  assertClose(stableRank([[1, 2, 3], [2, 4, 6], [-0.5, -1, -1.5]])!, 1, 1e-13);
  assertClose(stableRank([[2, 0, 0], [0, 2, 0], [0, 0, 2]])!, 3, 1e-14);
  // columns [3,4], [0,5]: AᵀA = [[25,20],[20,25]] → σ² = 45, 5; R = 50/45
  assertClose(stableRank([[3, 4], [0, 5]])!, 50 / 45, 1e-14);
  assertVecClose(singularValues([[3, 4], [0, 5]]), [Math.sqrt(45), Math.sqrt(5)], 1e-14);
  // transpose invariance (b > d path)
  const r = rng(31);
  const A = randMat(r, 7, 3); // 7 columns of length 3
  const At = [0, 1, 2].map((i) => A.map((c) => c[i]!));
  assertClose(stableRank(A)!, stableRank(At)!, 1e-12);
  // largest singular value = sqrt of the top eigenvalue of AᵀA by power iteration
  const B = randMat(r, 4, 9);
  let v = randVec(r, 4);
  for (let it = 0; it < 2000; it++) {
    const Av = B[0]!.map((_, i) => B.reduce((a, col, j) => a + col[i]! * v[j]!, 0));
    const AtAv = B.map((col) => dot(col, Av));
    v = scale(AtAv, 1 / norm(AtAv));
  }
  const Av = B[0]!.map((_, i) => B.reduce((a, col, j) => a + col[i]! * v[j]!, 0));
  assertClose(singularValues(B)[0]!, norm(Av), 1e-10);
  assert.equal(stableRank([[0, 0], [0, 0]]), null);
});

test('expected Gaussian stable rank: trivial shapes, determinism, rough agreement with the closed form', () => {
  assertClose(expectedGaussianStableRank(5, 1, 50, 1), 1, 1e-14);
  assertClose(expectedGaussianStableRank(1, 5, 50, 1), 1, 1e-14);
  const a = expectedGaussianStableRank(20, 4, 500, 7);
  assert.equal(a, expectedGaussianStableRank(20, 4, 500, 7));
  assert.ok(a > 1 && a < 4);
  const closed = (20 * 4) / (Math.sqrt(20) + 2) ** 2;
  assert.ok(Math.abs(a - closed) / closed < 0.3, `${a} vs ${closed}`);
});

test('rankX / rankW are the stable ranks divided by the Gaussian expectation of the same shape', () => {
  const { model, xs, ys } = linearBatch();
  const opts = { samples: 300, seed: 3 };
  const rx = rankX(model, xs, ys, opts)!;
  assertClose(rx, stableRankX(model, xs, ys)! / expectedGaussianStableRank(3, 5, 300, 3), 1e-14);
  const rw = rankW(model, xs, ys, opts)!;
  assertClose(rw, stableRankW(model, xs, ys)! / expectedGaussianStableRank(8, 5, 300, 3), 1e-14);
});

test('coherence, diversity, confusion on closed-form cases', () => {
  const h = [1, -2, 3];
  assertClose(coherence([h, h, h, h])!, 1, 1e-15);
  assertClose(diversity([h, h, h])!, 1 / 3, 1e-15);
  assertClose(diversity([[1, 0], [0, 1]])!, 1, 1e-15);
  assertClose(confusion([[1, 0], [-1, 0]])!, 1, 1e-15);
  assert.equal(confusion([[1, 0], [0, 1]]), 0);
  assert.equal(confusion([[1, 0], [1, 1]]), 0); // positive cosines → 0
  assertClose(confusion([[1, 0], [0, 1], [-1, 1]])!, Math.SQRT1_2, 1e-15);
  // coherence of two orthogonal equal-norm examples: ⟨h̄, h_i⟩ = ½‖h_i‖² → ½
  assertClose(coherence([[1, 0], [0, 1]])!, 0.5, 1e-15);
  assert.equal(coherence([[0, 0], [0, 0]]), null);
  assert.equal(diversity([h]), null);
  assert.equal(diversity([[1, 0], [-1, 0]]), null);
  assert.equal(confusion([h]), null);
});

test('noiseScale: hand example and null cases', () => {
  // h̄ = [2,1], ‖h̄‖² = 5; residuals ±[1,0] → tr(Σ) = 2/1 = 2; ‖G‖² = 5 − 2/2 = 4 → 0.5
  assertClose(noiseScale([[3, 1], [1, 1]])!, 0.5, 1e-15);
  // three examples: h̄ = [1,1]; residuals [1,-1],[−1,1],[0,0]: tr = 4/2 = 2; ‖G‖² = 2 − 2/3 → 2/(4/3) = 1.5
  assertClose(noiseScale([[2, 0], [0, 2], [1, 1]])!, 1.5, 1e-14);
  assert.equal(noiseScale([[1, 0], [0, 1]]), null); // ‖G‖² = 0.5 − 1/2 = 0
  assert.equal(noiseScale([[1, 2]]), null); // b < 2
  assert.equal(noiseScale([[1, 0], [-1, 0]]), null); // negative estimate
  assert.equal(noiseScale([[1, 1], [1, 1]]), 0); // no noise
});

test('coherence / noiseScale from a model use per-example gradients (not the batch mean)', () => {
  const { model, xs, ys } = linearBatch();
  const hs = perExampleGrads(model, xs, ys);
  assert.equal(hs.length, 5);
  const c = coherence(hs)!;
  assert.ok(c > 0 && c <= 1 + 1e-12);
  assertVecClose(hs.reduce((a, v) => add(a, scale(v, 1 / 5)), new Array(8).fill(0)), batchGrad(model, xs, ys), 1e-15);
});
