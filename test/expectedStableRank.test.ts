/**
 * E[R(Y)] by the bidiagonal model, against independent float64 references: explicit Gaussian
 * matrices with a dense Jacobi eigen-solve, the earlier Bartlett sampler, Wishart moments in
 * closed form, normal and exponential tail probabilities, and dense eigenvalues of tridiagonals.
 * No tensors are involved.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mulberry32, normalSampler } from '../src/data/random.js';
import {
  bartlettStableRankDraws,
  bidiagonalStableRankDraws,
  chiSquaredFiller,
  clearExpectedStableRankCache,
  expectedStableRank,
  expectedStableRankEstimate,
  gammaFiller,
  gaussianBidiagonalDrawer,
  monteCarlo,
  Mulberry32Variates,
  type StableRankEstimate,
} from '../src/metrics/expectedStableRank.js';
import { jacobiEigenvalues } from './reference/jacobi.js';
import { exceedsSpectrum, gramOfUpperBidiagonal, largestEigenvalue, type SymmetricTridiagonal } from '../src/metrics/bidiagonal.js';

// ---------- float64 references ----------

const maxOf = (xs: number[]): number => xs.reduce((m, x) => Math.max(m, x), -Infinity);

function denseOfTridiagonal(t: SymmetricTridiagonal): number[][] {
  return Array.from({ length: t.n }, (_, i) =>
    Array.from({ length: t.n }, (_, j) => (i === j ? t.diag[i]! : Math.abs(i - j) === 1 ? Math.sqrt(t.offSq[Math.min(i, j)]!) : 0)),
  );
}

/** R(Y) of an explicit d × b Gaussian matrix: tr(G)/λ_max(G), G the smaller Gram matrix. */
function directStableRank(d: number, b: number, normal: () => number): number {
  const y = Array.from({ length: d }, () => Array.from({ length: b }, normal));
  const [rows, cols] = b <= d ? [d, b] : [b, d];
  const at = (r: number, c: number): number => (b <= d ? y[r]![c]! : y[c]![r]!);
  const g = Array.from({ length: cols }, (_, i) =>
    Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += at(r, i) * at(r, j);
      return s;
    }),
  );
  const trace = g.reduce((s, row, i) => s + row[i]!, 0);
  return trace / maxOf(jacobiEigenvalues(g));
}

/** P(a < Z < b) for a standard normal, by composite Simpson on the density (|a|, |b| ≤ 12). */
function normalProbability(a: number, b: number): number {
  const lo = Math.max(a, -12);
  const hi = Math.min(b, 12);
  if (hi <= lo) return 0;
  const steps = 4000;
  const h = (hi - lo) / steps;
  const phi = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  let s = phi(lo) + phi(hi);
  for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * phi(lo + i * h);
  return (s * h) / 3;
}

function moments(xs: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < xs.length; i++) mean += xs[i]!;
  mean /= xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - mean) ** 2;
  return { mean, variance: v / (xs.length - 1) };
}

/** Asserts that two Monte-Carlo means agree within 4 combined standard errors. */
function assertAgree(a: StableRankEstimate, b: StableRankEstimate, what: string): void {
  const se = Math.sqrt(a.stdError ** 2 + b.stdError ** 2);
  assert.ok(Math.abs(a.mean - b.mean) <= 4 * se, `${what}: ${a.mean} ± ${a.stdError} vs ${b.mean} ± ${b.stdError}`);
}

// ---------- random variates ----------

describe('random variates', () => {
  it('Mulberry32Variates.word is mulberry32 of src/data/random.ts, word for word', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, 2 ** 32 - 1]) {
      const rand = mulberry32(seed);
      const v = new Mulberry32Variates(seed);
      for (let i = 0; i < 1000; i++) {
        const w = v.word();
        assert.ok(Number.isInteger(w) && w >= -(2 ** 31) && w < 2 ** 31);
        assert.equal((w >>> 0) / 2 ** 32, rand());
      }
    }
    const u = new Mulberry32Variates(3);
    for (let i = 0; i < 1000; i++) {
      const x = u.uniform();
      assert.ok(x > 0 && x < 1);
    }
  });

  it('gammaFiller: Gamma(a) has mean a and variance a (Box–Muller normals, so the ziggurat is not involved)', () => {
    const rand = mulberry32(11);
    const source = { uniform: () => rand() + 2 ** -33, normal: normalSampler(rand) };
    const n = 40000;
    for (const a of [0.5, 1, 2.5, 30, 1e5]) {
      const out = new Float64Array(n);
      gammaFiller(new Array(n).fill(a), source)(out);
      const { mean, variance } = moments(out);
      assert.ok(Math.abs(mean - a) <= 5 * Math.sqrt(a / n), `Gamma(${a}) mean ${mean}`);
      // Var(s²) ≈ (μ₄ − σ⁴)/n with μ₄ = 3a² + 6a for Gamma(a).
      assert.ok(Math.abs(variance - a) <= 5 * Math.sqrt((2 * a * a + 6 * a) / n), `Gamma(${a}) variance ${variance}`);
    }
    const scaled = new Float64Array(n);
    gammaFiller(new Array(n).fill(3), source, 2.5)(scaled);
    assert.ok(Math.abs(moments(scaled).mean - 7.5) <= 5 * 2.5 * Math.sqrt(3 / n), 'scale');
    for (const bad of [0, -1, NaN, Infinity]) assert.throws(() => gammaFiller([1, bad], source), RangeError);
  });

  it('chiSquaredFiller: χ²_k moments, and the tails of χ²_1 = Z² and χ²_2 = Exp(1/2) exactly', () => {
    const n = 40000;
    for (const k of [1, 2, 3, 50, 1e6]) {
      const out = new Float64Array(n);
      chiSquaredFiller(new Array(n).fill(k), new Mulberry32Variates(k))(out);
      const { mean, variance } = moments(out);
      assert.ok(Math.abs(mean - k) <= 5 * Math.sqrt((2 * k) / n), `χ²_${k} mean ${mean}`);
      // Var(s²) ≈ (μ₄ − σ⁴)/n with μ₄ = 12k² + 48k and σ⁴ = 4k² for χ²_k.
      assert.ok(Math.abs(variance - 2 * k) <= 5 * Math.sqrt((8 * k * k + 48 * k) / n), `χ²_${k} variance ${variance}`);
      const tail = (t: number, p: number): void => {
        const seen = out.filter((x) => x > t).length / n;
        assert.ok(Math.abs(seen - p) <= 5 * Math.sqrt((p * (1 - p)) / n), `P(χ²_${k} > ${t}) = ${seen}, expected ${p}`);
      };
      if (k === 1) for (const t of [0.01, 1, 4, 9]) tail(t, 1 - normalProbability(-Math.sqrt(t), Math.sqrt(t)));
      if (k === 2) for (const t of [0.1, 1, 4, 10]) tail(t, Math.exp(-t / 2));
    }
    // A mixed list fills each position with its own law: here, the means of two interleaved halves.
    const mixed = chiSquaredFiller(Array.from({ length: 2 * n }, (_, i) => (i % 2 ? 3 : 400)), new Mulberry32Variates(5));
    const out = new Float64Array(2 * n);
    mixed(out);
    const odd = moments(out.filter((_, i) => i % 2 === 1)).mean;
    const even = moments(out.filter((_, i) => i % 2 === 0)).mean;
    assert.ok(Math.abs(odd - 3) <= 5 * Math.sqrt(6 / n) && Math.abs(even - 400) <= 5 * Math.sqrt(800 / n), `${odd}, ${even}`);
    assert.throws(() => chiSquaredFiller([3, 0], new Mulberry32Variates(1)), RangeError);
    assert.throws(() => chiSquaredFiller([2.5], new Mulberry32Variates(1)), RangeError);
  });

  it('Mulberry32Variates.normal (ziggurat): bin probabilities (χ² test), tails beyond the base layer, moments, no serial correlation', () => {
    const n = 400000;
    const v = new Mulberry32Variates(2024);
    const xs = Float64Array.from({ length: n }, () => v.normal());
    const { mean, variance } = moments(xs);
    assert.ok(Math.abs(mean) <= 5 / Math.sqrt(n), `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) <= 5 * Math.sqrt(2 / n), `variance ${variance}`);
    // 40 equal bins on [−4, 4] and two tails: Pearson's χ² with 41 degrees of freedom.
    const edges = [-Infinity, ...Array.from({ length: 41 }, (_, i) => -4 + 0.2 * i), Infinity];
    const counts = new Array(edges.length - 1).fill(0);
    for (const x of xs) counts[Math.min(edges.length - 2, Math.max(0, Math.floor((x + 4) / 0.2) + 1))]++;
    let chi2 = 0;
    for (let i = 0; i < counts.length; i++) {
      const expected = n * normalProbability(edges[i]!, edges[i + 1]!);
      chi2 += (counts[i] - expected) ** 2 / expected;
    }
    assert.ok(chi2 < 90, `Pearson χ² = ${chi2} on 41 degrees of freedom (P(χ²_41 > 90) ≈ 1e-5)`);
    // The tail beyond r = 3.4426 comes from a separate algorithm: its mass must be right too.
    const r = 3.442619855899;
    const pTail = 1 - normalProbability(-r, r);
    const seenTail = xs.filter((x) => Math.abs(x) > r).length / n;
    assert.ok(Math.abs(seenTail - pTail) <= 5 * Math.sqrt(pTail / n), `P(|Z| > r) = ${seenTail}, expected ${pTail}`);
    let lag = 0;
    for (let i = 1; i < n; i++) lag += xs[i]! * xs[i - 1]!;
    assert.ok(Math.abs(lag / n) <= 5 / Math.sqrt(n), `lag-1 correlation ${lag / n}`);
  });
});

// ---------- the bidiagonal model ----------

describe('Gaussian bidiagonal model', () => {
  it('gramOfUpperBidiagonal is BᵀB of the explicit matrix', () => {
    const rand = mulberry32(3);
    const m = 6;
    const diag = Array.from({ length: m }, () => rand() * 3 - 1.5);
    const sup = Array.from({ length: m - 1 }, () => rand() * 3 - 1.5);
    const bMat = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (j === i ? diag[i]! : j === i + 1 ? sup[i]! : 0)));
    const t = gramOfUpperBidiagonal(Float64Array.from(diag, (x) => x * x), Float64Array.from(sup, (x) => x * x));
    for (let i = 0; i < m; i++) {
      for (let j = i; j < Math.min(m, i + 2); j++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += bMat[k]![i]! * bMat[k]![j]!;
        const got = i === j ? t.diag[i]! : Math.sqrt(t.offSq[i]!) * Math.sign(diag[i]! * sup[i]!);
        assert.ok(Math.abs(got - s) <= 1e-14 * (1 + Math.abs(s)), `(BᵀB)[${i}][${j}] = ${s}, got ${got}`);
      }
    }
  });

  it('reproduces the Wishart moments E tr W = nm and E tr W² = nm(n + m + 1) (pins every index range)', () => {
    for (const [n, m] of [[5, 3], [7, 7], [40, 4], [2, 2]] as const) {
      const draw = gaussianBidiagonalDrawer(n, m, new Mulberry32Variates(n * 100 + m));
      const entries = { diagSq: new Float64Array(m), superSq: new Float64Array(m - 1) };
      const draws = 20000;
      const tr = new Float64Array(draws);
      const tr2 = new Float64Array(draws);
      for (let s = 0; s < draws; s++) {
        draw(entries);
        const t = gramOfUpperBidiagonal(entries.diagSq, entries.superSq);
        for (let i = 0; i < m; i++) {
          tr[s] += t.diag[i]!;
          tr2[s] += t.diag[i]! ** 2 + (i < m - 1 ? 2 * t.offSq[i]! : 0);
        }
      }
      const m1 = moments(tr);
      const m2 = moments(tr2);
      assert.ok(Math.abs(m1.mean - n * m) <= 5 * Math.sqrt(m1.variance / draws), `${n}×${m}: E tr W = ${m1.mean}, expected ${n * m}`);
      const want = n * m * (n + m + 1);
      assert.ok(Math.abs(m2.mean - want) <= 5 * Math.sqrt(m2.variance / draws), `${n}×${m}: E tr W² = ${m2.mean}, expected ${want}`);
    }
    assert.throws(() => gaussianBidiagonalDrawer(3, 4, new Mulberry32Variates(1)), RangeError);
    assert.throws(() => gaussianBidiagonalDrawer(3, 0, new Mulberry32Variates(1)), RangeError);
  });
});

// ---------- largest eigenvalue of a tridiagonal ----------

function randomTridiagonal(n: number, rand: () => number, kind: 'gram' | 'general'): SymmetricTridiagonal {
  if (kind === 'gram') {
    const sq = (k: number): Float64Array => Float64Array.from({ length: k }, () => (rand() * 4 - 2) ** 2);
    return gramOfUpperBidiagonal(sq(n), sq(Math.max(0, n - 1)));
  }
  return { n, diag: Float64Array.from({ length: n }, () => rand() * 10 - 3), offSq: Float64Array.from({ length: Math.max(0, n - 1) }, () => (rand() * 4) ** 2) };
}

function assertTopEigenvalue(t: SymmetricTridiagonal, firstBlock: number, what: string, relTol = 1e-10): void {
  const want = maxOf(jacobiEigenvalues(denseOfTridiagonal(t)));
  const got = largestEigenvalue(t, { relTol, firstBlock });
  assert.ok(Math.abs(got - want) <= relTol * Math.abs(want) + 1e-13 * Math.abs(want), `${what}: ${got} vs dense ${want}`);
}

describe('largestEigenvalue (tridiagonal)', () => {
  it('matches a dense Jacobi solve on random Gram and general tridiagonals, whatever the first block', () => {
    const rand = mulberry32(77);
    for (const n of [1, 2, 3, 7, 30, 120]) {
      for (const kind of ['gram', 'general'] as const) {
        for (const firstBlock of [1, 3, n]) {
          assertTopEigenvalue(randomTridiagonal(n, rand, kind), firstBlock, `${kind} n=${n} block=${firstBlock}`);
        }
      }
    }
    assertTopEigenvalue(randomTridiagonal(50, rand, 'gram'), 4, 'relTol 1e-14', 1e-14);
  });

  it('is right when the top eigenvector sits at the bottom, for diagonal, split and doubled spectra, and at extreme scales', () => {
    const n = 40;
    const rising: SymmetricTridiagonal = { n, diag: Float64Array.from({ length: n }, (_, i) => 10 * i), offSq: new Float64Array(n - 1).fill(4) };
    assertTopEigenvalue(rising, 2, 'eigenvector at the bottom (block doubles up to n)');
    const diagonal: SymmetricTridiagonal = { n: 5, diag: Float64Array.from([3, -1, 7, 7, 2]), offSq: new Float64Array(4) };
    assert.ok(Math.abs(largestEigenvalue(diagonal) - 7) <= 7e-10, 'diagonal');
    // Two equal decoupled blocks: a double top eigenvalue.
    const block = [5, 1, 3];
    const doubled: SymmetricTridiagonal = { n: 6, diag: Float64Array.from([...block, ...block]), offSq: Float64Array.from([2, 0.5, 0, 2, 0.5]) };
    assertTopEigenvalue(doubled, 1, 'double eigenvalue');
    const rand = mulberry32(8);
    const base = randomTridiagonal(25, rand, 'gram');
    const want = maxOf(jacobiEigenvalues(denseOfTridiagonal(base)));
    for (const scale of [1e-150, 1e150]) {
      const scaled: SymmetricTridiagonal = { n: 25, diag: base.diag.map((x) => x * scale), offSq: base.offSq.map((x) => x * scale * scale) };
      const got = largestEigenvalue(scaled, { firstBlock: 3 }) / scale;
      assert.ok(Math.abs(got - want) <= 1e-10 * want, `scale ${scale}: ${got} vs ${want}`);
    }
    const zero: SymmetricTridiagonal = { n: 4, diag: new Float64Array(4), offSq: new Float64Array(3) };
    assert.ok(Math.abs(largestEigenvalue(zero)) < 1e-290, 'zero matrix');
  });

  it('exceedsSpectrum tells apart points just above and just below λ_max, also for a leading block', () => {
    const t = randomTridiagonal(60, mulberry32(9), 'gram');
    const top = maxOf(jacobiEigenvalues(denseOfTridiagonal(t)));
    assert.equal(exceedsSpectrum(t, top * (1 + 1e-12)), true);
    assert.equal(exceedsSpectrum(t, top * (1 - 1e-12)), false);
    const lead: SymmetricTridiagonal = { n: 10, diag: t.diag.subarray(0, 10), offSq: t.offSq.subarray(0, 9) };
    const topLead = maxOf(jacobiEigenvalues(denseOfTridiagonal(lead)));
    assert.equal(exceedsSpectrum(t, topLead * (1 + 1e-12), 10), true);
    assert.equal(exceedsSpectrum(t, topLead * (1 - 1e-12), 10), false);
  });

  it('rejects bad options and non-finite entries with RangeError', () => {
    const t = randomTridiagonal(5, mulberry32(1), 'gram');
    assert.throws(() => largestEigenvalue(t, { relTol: 0 }), RangeError);
    assert.throws(() => largestEigenvalue(t, { relTol: 0.5 }), RangeError);
    assert.throws(() => largestEigenvalue(t, { firstBlock: 0 }), RangeError);
    assert.throws(() => largestEigenvalue({ n: 0, diag: new Float64Array(0), offSq: new Float64Array(0) }), RangeError);
    for (const bad of [NaN, Infinity]) {
      const early: SymmetricTridiagonal = { n: 5, diag: Float64Array.from([1, bad, 2, 3, 4]), offSq: new Float64Array(4).fill(1) };
      const late: SymmetricTridiagonal = { n: 5, diag: Float64Array.from([1, 2, 3, 4, 5]), offSq: Float64Array.from([1, 1, 1, bad]) };
      assert.throws(() => largestEigenvalue(early), RangeError, `${bad} in the first block`);
      assert.throws(() => largestEigenvalue(late, { firstBlock: 2 }), RangeError, `${bad} beyond the first block`);
    }
  });
});

// ---------- the estimator ----------

describe('expectedStableRank (bidiagonal Monte Carlo)', () => {
  const SHAPES = [[3, 2], [10, 10], [50, 5], [5, 50]] as const;

  it('agrees with direct Monte Carlo on explicit Gaussian matrices (dense float64 eigen-solve)', () => {
    const normal = normalSampler(mulberry32(123));
    for (const [d, b] of SHAPES) {
      const direct = monteCarlo(3000, () => directStableRank(d, b, normal));
      const est = expectedStableRankEstimate(d, b, 4000);
      assertAgree(est, direct, `${d}×${b} bidiagonal vs direct`);
    }
  });

  it('agrees with the earlier Bartlett–Lanczos sampler (another generator and another eigen-solver)', () => {
    for (const [d, b] of SHAPES) {
      const [n, m] = [Math.max(d, b), Math.min(d, b)];
      const bartlett = monteCarlo(3000, bartlettStableRankDraws(n, m, 99));
      assertAgree(expectedStableRankEstimate(d, b, 4000), bartlett, `${d}×${b} bidiagonal vs Bartlett`);
    }
    const bartlett = monteCarlo(400, bartlettStableRankDraws(128, 100, 5));
    assertAgree(expectedStableRankEstimate(100, 128, 400), bartlett, '100×128 bidiagonal vs Bartlett');
  });

  it('every draw lies in [1, m], and the closed form d·b/(√d+√b)² is measurably off at small shapes', () => {
    const draws = bidiagonalStableRankDraws(12, 9);
    for (let s = 0; s < 500; s++) {
      const r = draws();
      assert.ok(r >= 1 - 1e-9 && r <= 9 + 1e-9, `R = ${r}`);
    }
    const est = expectedStableRankEstimate(10, 10, 4000);
    const closed = 100 / (2 * Math.sqrt(10)) ** 2;
    assert.ok(Math.abs(est.mean - closed) > 10 * est.stdError, `${est.mean} ± ${est.stdError} vs closed form ${closed}`);
  });

  it('at b = 4096 and d = 10⁶ it is within 0.1% of the large-shape limit d·b/(√d+√b)²', () => {
    const est = expectedStableRankEstimate(1_000_000, 4096);
    const closed = (1e6 * 4096) / (1000 + 64) ** 2;
    assert.ok(Math.abs(est.mean / closed - 1) < 1e-3, `${est.mean} vs ${closed}`);
    assert.ok(est.stdError > 0 && est.stdError < 1e-3 * est.mean);
  });

  it('is deterministic per shape (also in another process), symmetric in d and b, cached, and exact for one column', () => {
    const a = expectedStableRank(37, 21);
    clearExpectedStableRankCache();
    assert.equal(expectedStableRank(21, 37), a);
    assert.equal(expectedStableRankEstimate(37, 21), expectedStableRankEstimate(37, 21)); // the cached object
    const first = bidiagonalStableRankDraws(30, 8, 42);
    const again = bidiagonalStableRankDraws(30, 8, 42);
    const other = bidiagonalStableRankDraws(30, 8, 43);
    const x = [first(), first(), first()];
    assert.deepEqual([again(), again(), again()], x);
    assert.notDeepEqual([other(), other(), other()], x);
    assert.deepEqual(expectedStableRankEstimate(1, 50), { mean: 1, stdError: 0, samples: 256 });
    assert.equal(expectedStableRank(50, 1), 1);
    const code = `const m = await import(${JSON.stringify(new URL('../src/metrics/expectedStableRank.ts', import.meta.url).href)});
      process.stdout.write(String(m.expectedStableRank(37, 21)));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(Number(r.stdout), a);
  });

  it('rejects bad arguments with RangeError', () => {
    for (const [d, b] of [[0, 3], [3, -1], [2.5, 3], [3, NaN], [Infinity, 3], [2 ** 53, 3]]) {
      assert.throws(() => expectedStableRank(d, b), RangeError, `${d}×${b}`);
    }
    assert.throws(() => expectedStableRank(3, 3, 199), RangeError);
    assert.throws(() => expectedStableRank(3, 3, 200.5), RangeError);
    assert.equal(expectedStableRankEstimate(3, 3, 200).samples, 200);
  });
});
