/**
 * The metrics as pure functions of Gram matrices, checked against the obvious float64
 * computation on explicit random vectors (written out here, not through src/metrics).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  entry,
  gramFromVectors,
  largestEigenvalue,
  largestEigenvalueLanczos,
  largestEigenvalueTridiagonal,
  makeGram,
  sumAll,
  trace,
  type Gram,
} from '../src/metrics/gram.js';
import { coherenceW, cosSimW, diversityW, kappaW, kappaWStep, stepSamplesFromGram } from '../src/metrics/stepConsistency.js';
import {
  coherence,
  confusion,
  diversity,
  kappaX,
  rankW,
  rankX,
  stableRankW,
  stableRankX,
  type KappaXSamples,
} from '../src/metrics/batchDissonance.js';
import { NOISE_DOMINATES, noiseScale } from '../src/metrics/noiseScale.js';
import {
  Rng,
  clearExpectedStableRankCache,
  expectedStableRank,
  expectedStableRankEstimate,
} from '../src/metrics/expectedStableRank.js';
import { METRICS, SAMPLE_GROUPS, computeGroup, getMetric, groupsFor, metricNames, metricsOfGroup } from '../src/metrics/registry.js';
import { ok, undef, type MetricValue } from '../src/metrics/result.js';
import { jacobiMaxEigenvalue } from './reference/jacobi.js';

// ---------- the test's own float64 helpers (independent of src/metrics) ----------

/** mulberry32 + Box–Muller: a different generator from the one under test. */
function testRng(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

type Vec = number[];
const randVec = (r: ReturnType<typeof testRng>, n: number, scale = 1): Vec => Array.from({ length: n }, () => scale * r.normal());
const dot = (a: Vec, b: Vec): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Vec): number => Math.sqrt(dot(a, a));
const add = (a: Vec, b: Vec): Vec => a.map((x, i) => x + b[i]!);
const sub = (a: Vec, b: Vec): Vec => a.map((x, i) => x - b[i]!);
const scale = (a: Vec, c: number): Vec => a.map((x) => c * x);
const sumVecs = (vs: Vec[]): Vec => vs.reduce((s, v) => add(s, v), new Array<number>(vs[0]!.length).fill(0));
const mean = (vs: Vec[]): Vec => scale(sumVecs(vs), 1 / vs.length);

/** `A Aᵀ` for the matrix whose columns are `cols` (d × d), so that it is not the Gram matrix. */
function outerSum(cols: Vec[]): number[][] {
  const d = cols[0]!.length;
  const out = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const c of cols) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i]![j]! += c[i]! * c[j]!;
  return out;
}

function assertClose(actual: MetricValue | number, expected: number, tol = 1e-9, msg = ''): void {
  const v = typeof actual === 'number' ? actual : actual.value;
  assert.notEqual(v, null, `${msg}: expected ${expected}, got null (${typeof actual === 'number' ? '' : actual.reason})`);
  const err = Math.abs((v as number) - expected) / Math.max(Math.abs(expected), 1e-300);
  assert.ok(err <= tol, `${msg}: got ${v}, expected ${expected}, relative error ${err}`);
}

function assertNull(m: MetricValue, reason?: string | RegExp): void {
  assert.equal(m.value, null, `expected null, got ${m.value}`);
  assert.equal(typeof m.reason, 'string');
  assert.ok(m.reason!.length > 0);
  if (typeof reason === 'string') assert.equal(m.reason, reason);
  else if (reason) assert.match(m.reason!, reason);
}

// ---------- result ----------

describe('result', () => {
  it('ok() turns non-finite numbers into null with a reason, undef() carries the reason', () => {
    assert.deepEqual(ok(2.5), { value: 2.5 });
    assertNull(ok(NaN));
    assertNull(ok(Infinity));
    assertNull(ok(-Infinity, 'why'), 'why');
    assert.ok(Object.is(ok(-0).value, 0));
    assert.deepEqual(undef('because'), { value: null, reason: 'because' });
  });
});

// ---------- gram ----------

describe('gram', () => {
  it('builds the Gram matrix, trace and sum of entries', () => {
    const r = testRng(1);
    const vs = Array.from({ length: 5 }, () => randVec(r, 11));
    const g = gramFromVectors(vs);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assertClose(entry(g, i, j), dot(vs[i]!, vs[j]!), 1e-12, `G${i}${j}`);
    assertClose(trace(g), vs.reduce((s, v) => s + dot(v, v), 0), 1e-12, 'trace');
    assertClose(sumAll(g), dot(sumVecs(vs), sumVecs(vs)), 1e-12, 'sum');
    assert.throws(() => makeGram(3, [1, 2, 3]), RangeError);
  });

  it('largest eigenvalue matches Jacobi on random, rank-deficient and clustered matrices', () => {
    const r = testRng(2);
    for (const [n, d] of [[1, 4], [2, 3], [8, 20], [30, 5], [40, 60]] as const) {
      const vs = Array.from({ length: n }, () => randVec(r, d));
      const expected = jacobiMaxEigenvalue(outerSum(vs)); // d × d, not the Gram matrix
      assertClose(largestEigenvalue(gramFromVectors(vs)), expected, 1e-10, `n=${n} d=${d}`);
    }
    // Equal top eigenvalues (identity) and a diagonal with a tiny gap.
    const n = 12;
    const eye = makeGram(n, Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 3 : 0)));
    assertClose(largestEigenvalue(eye), 3, 1e-13, 'identity');
    const diag = makeGram(4, [1, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5 + 1e-9, 0, 0, 0, 0, 2]);
    assertClose(largestEigenvalue(diag), 5 + 1e-9, 1e-14, 'diagonal');
    assert.equal(largestEigenvalue(makeGram(3, new Float64Array(9))), 0);
    assert.ok(Number.isNaN(largestEigenvalue(makeGram(2, [1, NaN, NaN, 1]))));
  });

  it('tridiagonal bisection and Lanczos agree with Householder', () => {
    // [[2,1,0],[1,2,1],[0,1,2]] has eigenvalues 2 - √2, 2, 2 + √2.
    assertClose(largestEigenvalueTridiagonal([2, 2, 2], [1, 1]), 2 + Math.SQRT2, 1e-14, 'tridiagonal');
    const r = testRng(3);
    const vs = Array.from({ length: 50 }, () => randVec(r, 70));
    const g = gramFromVectors(vs);
    const lz = largestEigenvalueLanczos(g.n, (x, out) => {
      for (let i = 0; i < g.n; i++) {
        let s = 0;
        for (let j = 0; j < g.n; j++) s += entry(g, i, j) * x[j]!;
        out[i] = s;
      }
    }, 1e-15);
    assertClose(lz, largestEigenvalue(g), 1e-12, 'lanczos');
    const d = [1, 4, 2, 3];
    assertClose(largestEigenvalueLanczos(4, (x, out) => d.forEach((di, i) => (out[i] = di * x[i]!))), 4, 1e-13, 'diagonal');
    // Block case: the all-ones start vector lies in the eigenspace of 1, the top eigenvalue 9 is
    // orthogonal to it; the restart must find it.
    const lz3 = largestEigenvalueLanczos(2, (x, out) => {
      // [[5, −4], [−4, 5]]: eigenvectors (1, 1) → 1, (1, −1) → 9.
      out[0] = 5 * x[0]! - 4 * x[1]!;
      out[1] = -4 * x[0]! + 5 * x[1]!;
    });
    assertClose(lz3, 9, 1e-13, 'invariant-subspace restart');
  });
});

// ---------- step consistency ----------

describe('step consistency', () => {
  const r = testRng(10);
  const P = 40;
  const theta = randVec(r, P);
  const h0 = randVec(r, P);
  const eta = 1e-2;
  const infNorm = Math.max(...h0.map(Math.abs));
  // K = 4 perturbations: ±η h̄/‖h̄‖∞ and two random ones; h̄_k = h̄₀ + a smooth-ish change.
  const omegas = [scale(h0, eta / infNorm), scale(h0, -eta / infNorm), randVec(r, P, eta), randVec(r, P, eta)];
  const hs = omegas.map((w) => add(h0, add(scale(w, 3), randVec(r, P, 0.05))));
  const gram = gramFromVectors([h0, ...hs]);
  const sample = { gram, omegaNorms: omegas.map(norm), thetaNorm: norm(theta) };

  it('kappaW = max_k ‖h̄_k − h̄₀‖‖θ‖/(‖ω_k‖‖h̄₀‖)', () => {
    const expected = Math.max(...hs.map((h, k) => (norm(sub(h, h0)) * norm(theta)) / (norm(omegas[k]!) * norm(h0))));
    assertClose(kappaW(sample), expected, 1e-9, 'kappaW');
    const direct = { ...sample, diffNorms: hs.map((h) => norm(sub(h, h0))) };
    assertClose(kappaW(direct), expected, 1e-12, 'kappaW with diffNorms');
  });

  it('cosSimW, diversityW, coherenceW', () => {
    assertClose(cosSimW(sample), Math.min(...hs.map((h) => dot(h, h0) / (norm(h) * norm(h0)))), 1e-9, 'cosSimW');
    assertClose(diversityW(sample), hs.reduce((s, h) => s + dot(h, h), 0) / dot(sumVecs(hs), sumVecs(hs)), 1e-9, 'diversityW');
    assertClose(coherenceW(sample), hs.reduce((s, h) => s + dot(h0, h), 0) / hs.reduce((s, h) => s + dot(h, h), 0), 1e-9, 'coherenceW');
  });

  it('gradient sampling: ± one direction gives cosSimW≈1, diversityW≈½, coherenceW≈1 when h̄_k = h̄₀', () => {
    const g = gramFromVectors([h0, h0, h0]);
    const s = { gram: g, omegaNorms: [1e-3, 1e-3], thetaNorm: 2 };
    assertClose(cosSimW(s), 1, 1e-12, 'cos');
    assertClose(diversityW(s), 0.5, 1e-12, 'diversity');
    assertClose(coherenceW(s), 1, 1e-12, 'coherence');
    assert.equal(kappaW(s).value, 0); // identical gradients: the clamped difference is exactly 0
  });

  it('null with a reason for zero denominators, never NaN', () => {
    const zero = new Array<number>(P).fill(0);
    const z = { gram: gramFromVectors([zero, h0, h0]), omegaNorms: [1, 1], thetaNorm: 1 };
    assertNull(kappaW(z), /zero batch gradient/);
    assertNull(cosSimW(z), /zero batch gradient/);
    const zk = { gram: gramFromVectors([h0, zero, zero]), omegaNorms: [1, 1], thetaNorm: 1 };
    assertNull(cosSimW(zk), /zero perturbed gradient/);
    assertNull(diversityW(zk), /sum to zero/);
    assertNull(coherenceW(zk), /zero/);
    const opposite = { gram: gramFromVectors([h0, h0, scale(h0, -1)]), omegaNorms: [1, 1], thetaNorm: 1 };
    assertNull(diversityW(opposite), /sum to zero/);
    assertNull(kappaW({ ...sample, omegaNorms: [0, 1, 1, 1] }), /norm 0/);
    const none = { gram: gramFromVectors([h0]), omegaNorms: [], thetaNorm: 1 };
    for (const f of [kappaW, cosSimW, diversityW, coherenceW]) assertNull(f(none), /at least one/);
    const nan = { gram: gramFromVectors([h0, h0.map(() => NaN), h0]), omegaNorms: [1, 1], thetaNorm: 1 };
    for (const f of [kappaW, cosSimW, diversityW, coherenceW]) assertNull(f(nan));
    assert.throws(() => kappaW({ ...sample, omegaNorms: [1] }), RangeError);
  });

  it('kappaWStep from two consecutive steps', () => {
    const hNext = add(h0, randVec(r, P, 0.1));
    const lr = 0.05;
    const thetaNext = sub(theta, scale(h0, lr));
    const expected = (norm(sub(hNext, h0)) * norm(theta)) / (norm(sub(thetaNext, theta)) * norm(h0));
    const s = {
      gradDiffNorm: norm(sub(hNext, h0)),
      gradNorm: norm(h0),
      thetaNorm: norm(theta),
      stepNorm: norm(sub(thetaNext, theta)),
    };
    assertClose(kappaWStep(s), expected, 1e-12, 'kappaWStep');
    // SGD: ‖θ_{t+1} − θ_t‖ = lr ‖h̄_t‖, the thesis' formula.
    assertClose(kappaWStep({ ...s, stepNorm: lr * norm(h0) }), (norm(sub(hNext, h0)) * norm(theta)) / (lr * dot(h0, h0)), 1e-12, 'sgd');
    assertClose(kappaWStep(stepSamplesFromGram(gramFromVectors([h0, hNext]), s.thetaNorm, s.stepNorm)), expected, 1e-9, 'from gram');
    assertNull(kappaWStep({ ...s, stepNorm: 0 }), /zero step/);
    assertNull(kappaWStep({ ...s, gradNorm: 0 }), /zero batch gradient/);
    assertNull(kappaWStep({ ...s, gradDiffNorm: NaN }));
  });
});

// ---------- batch dissonance ----------

describe('batch dissonance', () => {
  const r = testRng(20);

  it('coherence = Σ⟨h̄, h_i⟩ / Σ‖h_i‖²; identical examples give 1', () => {
    const hs = Array.from({ length: 9 }, () => randVec(r, 25));
    const hbar = mean(hs);
    const expected = hs.reduce((s, h) => s + dot(hbar, h), 0) / hs.reduce((s, h) => s + dot(h, h), 0);
    assertClose(coherence({ gram: gramFromVectors(hs), dim: 25 }), expected, 1e-9, 'coherence');
    const same = randVec(r, 25);
    assertClose(coherence({ gram: gramFromVectors([same, same, same, same]), dim: 25 }), 1, 1e-12, 'identical');
    assertNull(coherence({ gram: gramFromVectors([new Array(25).fill(0), new Array(25).fill(0)]), dim: 25 }), /zero/);
  });

  it('stable ranks = ‖A‖_F²/‖A‖₂² of the explicit matrix; rank-1 gives 1', () => {
    for (const [b, d] of [[10, 6], [5, 12], [16, 16]] as const) {
      const cols = Array.from({ length: b }, () => randVec(r, d));
      const fro = cols.reduce((s, c) => s + dot(c, c), 0);
      const expected = fro / jacobiMaxEigenvalue(outerSum(cols));
      const g = gramFromVectors(cols);
      assertClose(stableRankW({ gram: g, dim: d }), expected, 1e-9, `stableRankW ${d}x${b}`);
      assertClose(stableRankX({ gram: g, dim: d }), expected, 1e-9, `stableRankX ${d}x${b}`);
      const e = expectedStableRank(d, b);
      assertClose(rankW({ gram: g, dim: d }), expected / e, 1e-9, 'rankW');
      assertClose(rankX({ gram: g, dim: d }), expected / e, 1e-9, 'rankX');
    }
    const v = randVec(r, 30);
    const rank1 = gramFromVectors([v, scale(v, -2), scale(v, 0.5), scale(v, 3)]);
    assertClose(stableRankW({ gram: rank1, dim: 30 }), 1, 1e-12, 'rank 1');
    assertNull(stableRankX({ gram: gramFromVectors([new Array(4).fill(0), new Array(4).fill(0)]), dim: 4 }), /zero/);
    assertNull(rankX({ gram: gramFromVectors([new Array(4).fill(0), new Array(4).fill(0)]), dim: 4 }), /zero/);
    assertNull(stableRankW({ gram: gramFromVectors([[1, NaN]]), dim: 2 }));
  });

  it('kappaX = mean_i max_k ‖Δh_i‖‖x_i‖/(‖δ_k‖‖h_i‖), skipping zero directions and zero gradients', () => {
    const b = 6;
    const nDir = 4;
    const xs = Array.from({ length: b }, () => randVec(r, 8));
    const hsAt = Array.from({ length: b }, () => randVec(r, 15));
    const deltas = Array.from({ length: nDir }, () => randVec(r, 8, 1e-3));
    const hsPert = deltas.map(() => hsAt.map((h) => add(h, randVec(r, 15, 0.01))));
    const s: KappaXSamples = {
      diffNorms: hsPert.map((row) => row.map((h, i) => norm(sub(h, hsAt[i]!)))),
      gradNorms: hsAt.map(norm),
      inputNorms: xs.map(norm),
      deltaNorms: deltas.map(norm),
    };
    const ratioOf = (i: number, k: number): number =>
      (norm(sub(hsPert[k]![i]!, hsAt[i]!)) * norm(xs[i]!)) / (norm(deltas[k]!) * norm(hsAt[i]!));
    const expectedOver = (dirs: number[], examples: number[]): number =>
      examples.reduce((sum, i) => sum + Math.max(...dirs.map((k) => ratioOf(i, k))), 0) / examples.length;
    const all = [0, 1, 2, 3, 4, 5];
    assertClose(kappaX(s), expectedOver([0, 1, 2, 3], all), 1e-12, 'kappaX');

    // A direction marked with ‖δ‖ = 0 (zero input gradient) is skipped, even with a huge diff.
    const skipDir: KappaXSamples = {
      ...s,
      deltaNorms: [s.deltaNorms[0]!, 0, s.deltaNorms[2]!, s.deltaNorms[3]!],
      diffNorms: s.diffNorms.map((row, k) => (k === 1 ? row.map(() => 1e30) : row)),
    };
    assertClose(kappaX(skipDir), expectedOver([0, 2, 3], all), 1e-12, 'skip direction');
    // An example with h_i = 0 is left out of the mean (not counted as 0).
    const skipEx: KappaXSamples = { ...s, gradNorms: s.gradNorms.map((g, i) => (i === 2 ? 0 : g)) };
    assertClose(kappaX(skipEx), expectedOver([0, 1, 2, 3], [0, 1, 3, 4, 5]), 1e-12, 'skip example');
    // Nothing left: null with a reason.
    assertNull(kappaX({ ...s, gradNorms: s.gradNorms.map(() => 0) }), /all per-example gradients are zero/);
    assertNull(kappaX({ ...s, deltaNorms: s.deltaNorms.map(() => 0) }), /no input-perturbation direction/);
    assertNull(kappaX({ ...s, diffNorms: [], deltaNorms: [] }), /no input-perturbation direction/);
    assertNull(kappaX({ ...s, inputNorms: s.inputNorms.map((x, i) => (i === 0 ? NaN : x)) }));
    // A zero input contributes ratio 0, not null.
    const zeroInput: KappaXSamples = { ...s, inputNorms: s.inputNorms.map((x, i) => (i === 0 ? 0 : x)) };
    assertClose(kappaX(zeroInput), (expectedOver([0, 1, 2, 3], all) * b - Math.max(...[0, 1, 2, 3].map((k) => ratioOf(0, k)))) / b, 1e-12, 'zero input');
    assert.throws(() => kappaX({ ...s, inputNorms: [1] }), RangeError);
  });

  it('confusion = −min(min_{i<j} cos, 0); needs 2 batches', () => {
    const hs = Array.from({ length: 5 }, () => randVec(r, 7));
    let minCos = Infinity;
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) minCos = Math.min(minCos, dot(hs[i]!, hs[j]!) / (norm(hs[i]!) * norm(hs[j]!)));
    assert.ok(minCos < 0, 'the random draw should contain an obtuse pair');
    assertClose(confusion({ gram: gramFromVectors(hs) }), -minCos, 1e-9, 'confusion');
    const pos = [[1, 0.1, 0], [1, 0, 0.2], [0.9, 0.1, 0.1]];
    const c = confusion({ gram: gramFromVectors(pos) });
    assert.ok(Object.is(c.value, 0), `all acute: ${c.value}`);
    assertNull(confusion({ gram: gramFromVectors([hs[0]!]) }), 'needs at least 2 batches');
    assertNull(confusion({ gram: gramFromVectors([hs[0]!, new Array(7).fill(0)]) }), /zero batch gradient/);
  });

  it('diversity = Σ‖h̄_i‖²/‖Σh̄_i‖²; n identical batches give 1/n', () => {
    const hs = Array.from({ length: 4 }, () => randVec(r, 9));
    assertClose(diversity({ gram: gramFromVectors(hs) }), hs.reduce((s, h) => s + dot(h, h), 0) / dot(sumVecs(hs), sumVecs(hs)), 1e-9, 'diversity');
    for (const n of [2, 3, 7]) {
      assertClose(diversity({ gram: gramFromVectors(new Array(n).fill(hs[0]!)) }), 1 / n, 1e-12, `identical ${n}`);
    }
    assertNull(diversity({ gram: gramFromVectors([hs[0]!]) }), 'needs at least 2 batches');
    assertNull(diversity({ gram: gramFromVectors([hs[0]!, scale(hs[0]!, -1)]) }), /sum to zero/);
  });
});

// ---------- noise scale ----------

describe('noiseScale', () => {
  const r = testRng(30);
  it('tr(Σ)/‖G‖² with the unbiased estimates', () => {
    const base = randVec(r, 20);
    const hs = Array.from({ length: 12 }, () => add(base, randVec(r, 20, 0.5)));
    const hbar = mean(hs);
    const trSigma = hs.reduce((s, h) => s + dot(sub(h, hbar), sub(h, hbar)), 0) / (hs.length - 1);
    const gSq = dot(hbar, hbar) - trSigma / hs.length;
    assert.ok(gSq > 0);
    assertClose(noiseScale({ gram: gramFromVectors(hs), dim: 20 }), trSigma / gSq, 1e-9, 'noiseScale');
  });
  it('identical examples have no noise; noise-dominated and tiny batches are null', () => {
    const v = randVec(r, 20);
    const same = noiseScale({ gram: gramFromVectors([v, v, v]), dim: 20 });
    assert.ok(same.value !== null && Math.abs(same.value) < 1e-12, `identical: ${same.value}`);
    assertNull(noiseScale({ gram: gramFromVectors([v, scale(v, -1)]), dim: 20 }), NOISE_DOMINATES);
    assertNull(noiseScale({ gram: gramFromVectors(Array.from({ length: 8 }, () => randVec(r, 20))), dim: 20 }), NOISE_DOMINATES);
    assertNull(noiseScale({ gram: gramFromVectors([v]), dim: 20 }), /at least 2/);
    assertNull(noiseScale({ gram: gramFromVectors([new Array(3).fill(0), new Array(3).fill(0)]), dim: 3 }), NOISE_DOMINATES);
  });
});

// ---------- expected stable rank ----------

describe('expectedStableRank', () => {
  it('the generator: χ² moments', () => {
    const rng = new Rng(7);
    for (const k of [1, 2, 5, 100]) {
      const n = 20000;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = rng.chiSquared(k);
        s += x;
        s2 += x * x;
      }
      const m = s / n;
      const v = s2 / n - m * m;
      assert.ok(Math.abs(m - k) < 5 * Math.sqrt((2 * k) / n), `χ²_${k} mean ${m}`);
      assert.ok(Math.abs(v - 2 * k) < 0.15 * 2 * k, `χ²_${k} variance ${v}`);
    }
  });

  it('matches direct Monte Carlo on explicit Gaussian matrices within a few standard errors', () => {
    const r = testRng(40);
    for (const [d, b] of [[20, 5], [7, 7], [3, 30]] as const) {
      const n = 3000;
      let s = 0;
      let s2 = 0;
      for (let t = 0; t < n; t++) {
        const cols = Array.from({ length: b }, () => randVec(r, d));
        const fro = cols.reduce((acc, c) => acc + dot(c, c), 0);
        const val = fro / jacobiMaxEigenvalue(outerSum(cols)); // d × d = Y Yᵀ
        s += val;
        s2 += val * val;
      }
      const m = s / n;
      const se = Math.sqrt((s2 / n - m * m) / n);
      const est = expectedStableRankEstimate(d, b);
      assert.equal(est.samples, 256);
      const z = Math.abs(est.mean - m) / Math.sqrt(se * se + est.stdError * est.stdError);
      assert.ok(z < 4, `${d}x${b}: Bartlett ${est.mean} ± ${est.stdError}, direct ${m} ± ${se} (z = ${z})`);
      const closed = (d * b) / (Math.sqrt(d) + Math.sqrt(b)) ** 2;
      assert.notEqual(est.mean, closed);
    }
  });

  it('is deterministic, symmetric in the shape, cached, and cheap for huge d', () => {
    const a = expectedStableRank(300000, 16);
    assert.ok(a > 1 && a < 16, `${a}`);
    clearExpectedStableRankCache();
    assert.equal(expectedStableRank(16, 300000), a);
    assert.equal(expectedStableRank(300000, 16), a);
    assert.equal(expectedStableRank(1, 50), 1);
    assert.equal(expectedStableRank(50, 1), 1);
    // b = d gives the largest spread; more columns than rows, and vice versa, give the same value.
    assert.equal(expectedStableRank(9, 4), expectedStableRank(4, 9));
    assert.throws(() => expectedStableRank(0, 3), RangeError);
    assert.throws(() => expectedStableRank(3, 3, 100), RangeError);
    const t0 = performance.now();
    expectedStableRank(128, 128);
    assert.ok(performance.now() - t0 < 5000, 'a 128 × 128 shape should take well under 5 s');
  });
});

// ---------- registry ----------

describe('registry', () => {
  const expected = [
    'kappaW', 'cosSimW', 'diversityW', 'coherenceW', 'kappaWStep', 'kappaX', 'stableRankX', 'rankX',
    'stableRankW', 'rankW', 'confusion', 'diversity', 'coherence', 'noiseScale',
    'kappaWUpdate', 'cosSimWUpdate', 'descentRatio', 'localSmoothness', 'traceSigma', 'gradSqEstimate',
  ];

  it('lists every metric once, with its group, cost and description', () => {
    assert.deepEqual([...metricNames].sort(), [...expected].sort());
    for (const name of metricNames) {
      const m = METRICS[name];
      assert.equal(m.name, name);
      assert.ok((SAMPLE_GROUPS as readonly string[]).includes(m.group));
      assert.ok(['step-consistency', 'batch-dissonance', 'noise-scale'].includes(m.family));
      assert.ok(m.description.length > 0 && m.thesis.length > 0 && m.memory.length > 0 && m.requires.length > 0);
      assert.ok(m.extraPasses.forward !== undefined && m.extraPasses.backward !== undefined);
      assert.equal(typeof m.compute, 'function');
    }
    assert.equal(METRICS.kappaWStep.extraPasses.forward, 0);
    assert.equal(getMetric('kappaX').group, 'inputPerturbation');
    assert.throws(() => getMetric('kapaW'), /known metrics are/);
  });

  it('groups share samples; computeGroup runs every metric of a group', () => {
    assert.deepEqual(metricsOfGroup('perExample').map((m) => m.name), ['stableRankW', 'rankW', 'coherence', 'noiseScale', 'traceSigma', 'gradSqEstimate']);
    assert.deepEqual(metricsOfGroup('update').map((m) => m.name), ['kappaWUpdate', 'cosSimWUpdate', 'descentRatio', 'localSmoothness']);
    assert.deepEqual(metricsOfGroup('weightPerturbation').map((m) => m.name), ['kappaW', 'cosSimW', 'diversityW', 'coherenceW']);
    assert.deepEqual(metricsOfGroup('multiBatch').map((m) => m.name), ['confusion', 'diversity']);
    assert.deepEqual(groupsFor(['rankX', 'coherence', 'noiseScale', 'stableRankX']), ['perExample', 'inputGradient']);
    const total = SAMPLE_GROUPS.reduce((s, g) => s + metricsOfGroup(g).length, 0);
    assert.equal(total, metricNames.length);
    const r = testRng(50);
    const hs = Array.from({ length: 6 }, () => randVec(r, 10));
    const out = computeGroup('perExample', { gram: gramFromVectors(hs), dim: 10 });
    assert.deepEqual(Object.keys(out).sort(), ['coherence', 'gradSqEstimate', 'noiseScale', 'rankW', 'stableRankW', 'traceSigma']);
    assert.deepEqual(out.coherence, coherence({ gram: gramFromVectors(hs), dim: 10 }));
    assert.deepEqual(Object.keys(computeGroup('multiBatch', { gram: gramFromVectors(hs) }, ['diversity'])), ['diversity']);
  });

  it('no metric returns NaN or Infinity on degenerate samples', () => {
    const zeros = (n: number): Gram => makeGram(n, new Float64Array(n * n));
    const nans = (n: number): Gram => makeGram(n, new Float64Array(n * n).fill(NaN));
    const infs = (n: number): Gram => makeGram(n, new Float64Array(n * n).fill(Infinity));
    const samples: { [G in (typeof SAMPLE_GROUPS)[number]]: unknown[] } = {
      step: [
        { gradDiffNorm: 0, gradNorm: 0, thetaNorm: 0, stepNorm: 0 },
        { gradDiffNorm: NaN, gradNorm: 1, thetaNorm: 1, stepNorm: 1 },
        { gradDiffNorm: Infinity, gradNorm: 1, thetaNorm: 1, stepNorm: 1 },
        { gradDiffNorm: 1, gradNorm: 1e-300, thetaNorm: 1e300, stepNorm: 1e-300 },
      ],
      weightPerturbation: [zeros(3), nans(3), infs(3)].map((gram) => ({ gram, omegaNorms: [1, 1], thetaNorm: 1 })),
      update: [
        ...[zeros(2), nans(2), infs(2)].map((gram) => ({ gram, gradDiffNorm: 0, thetaNorm: 1, updateNorm: 0, gradDotUpdate: 0, lossBefore: 1, lossAfter: 1 })),
        { gram: makeGram(2, Float64Array.from([1, 1, 1, 1])), gradDiffNorm: NaN, thetaNorm: 1, updateNorm: 1, gradDotUpdate: NaN, lossBefore: NaN, lossAfter: 1 },
        { gram: makeGram(2, Float64Array.from([1, 1, 1, 1])), gradDiffNorm: 1, thetaNorm: Infinity, updateNorm: 1e-300, gradDotUpdate: -1e-300, lossBefore: 1e300, lossAfter: -1e300 },
        { gram: makeGram(2, Float64Array.from([1, 0, 0, 0])), gradDiffNorm: 1, thetaNorm: 1, updateNorm: 1, gradDotUpdate: 1, lossBefore: 1, lossAfter: 1 },
      ],
      perExample: [zeros(4), nans(4), infs(4), zeros(1), zeros(0)].map((gram) => ({ gram, dim: 5 })),
      inputGradient: [zeros(4), nans(4), infs(4), zeros(0)].map((gram) => ({ gram, dim: 5 })),
      inputPerturbation: [
        { diffNorms: [[0, 0]], gradNorms: [0, 0], inputNorms: [0, 0], deltaNorms: [0] },
        { diffNorms: [[NaN, 1]], gradNorms: [1, 1], inputNorms: [1, 1], deltaNorms: [1] },
        { diffNorms: [[Infinity, 1]], gradNorms: [1, 1], inputNorms: [1, 1], deltaNorms: [1] },
        { diffNorms: [[1, 1]], gradNorms: [1e-300, 1], inputNorms: [1e300, 1], deltaNorms: [1e-300] },
      ],
      multiBatch: [zeros(3), nans(3), infs(3), zeros(1), zeros(0)].map((gram) => ({ gram })),
    };
    for (const name of metricNames) {
      const m = METRICS[name];
      for (const s of samples[m.group]) {
        const v = (m.compute as (x: unknown) => MetricValue)(s);
        if (v.value === null) assert.ok(typeof v.reason === 'string' && v.reason.length > 0, name);
        else assert.ok(Number.isFinite(v.value), `${name} gave ${v.value} on ${JSON.stringify(s)}`);
      }
    }
  });
});
