/**
 * Straightforward float64 reference implementations of every metric in docs/metrics.md.
 *
 * Everything is computed from explicit vectors (per-example gradients h_i, input gradients
 * g_i, batch gradients h̄), with no Gram-matrix shortcuts, so that the tfjs implementation can
 * be checked against an independent computation. Perturbed quantities are recomputed from a
 * perturbed COPY of the model (weights in float64) on the same batch.
 *
 * A metric whose denominator is zero or not finite returns `null` (as docs/metrics.md says).
 */
import { exampleGrads, flattenParams, paramInfo, withParams, type RefModel, type Target } from './model.js';

export type Vec = number[];

// ---------------------------------------------------------------------------------------------
// Vector helpers

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dot: length ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
export const norm = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));
export function normInf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
export const add = (a: ArrayLike<number>, b: ArrayLike<number>): Vec => Array.from(a, (v, i) => v + b[i]!);
export const sub = (a: ArrayLike<number>, b: ArrayLike<number>): Vec => Array.from(a, (v, i) => v - b[i]!);
export const scale = (a: ArrayLike<number>, s: number): Vec => Array.from(a, (v) => v * s);
/** Element-wise mean of vectors of equal length. */
export function meanVec(vs: ArrayLike<number>[]): Vec {
  if (vs.length === 0) throw new Error('meanVec: no vectors');
  const m = new Array<number>(vs[0]!.length).fill(0);
  for (const v of vs) for (let i = 0; i < m.length; i++) m[i]! += v[i]!;
  return m.map((s) => s / vs.length);
}
/** Sum of vectors of equal length. */
export function sumVec(vs: ArrayLike<number>[]): Vec {
  const m = new Array<number>(vs[0]!.length).fill(0);
  for (const v of vs) for (let i = 0; i < m.length; i++) m[i]! += v[i]!;
  return m;
}
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

// ---------------------------------------------------------------------------------------------
// Masks (section 1.6): a mask is a boolean per flat parameter coordinate; applying it zeroes
// the dropped coordinates, which is the same as restricting every norm / inner product to the
// kept ones.

/** Flat boolean mask from explicit kept indices per trainable variable (trainableWeights order). */
export function maskFromIndices(model: RefModel, keptPerVariable: number[][]): boolean[] {
  const infos = paramInfo(model);
  if (keptPerVariable.length !== infos.length) {
    throw new Error(`maskFromIndices: ${infos.length} variables, got ${keptPerVariable.length} index sets`);
  }
  const total = infos.reduce((a, p) => a + p.size, 0);
  const mask = new Array<boolean>(total).fill(false);
  infos.forEach((info, v) => {
    for (const j of keptPerVariable[v]!) {
      if (j < 0 || j >= info.size) throw new Error(`maskFromIndices: index ${j} out of range for variable ${v}`);
      mask[info.offset + j] = true;
    }
  });
  return mask;
}
/** Zeroes the coordinates the mask drops; identity when `mask` is undefined. */
export function applyMask(v: ArrayLike<number>, mask?: readonly boolean[]): Vec {
  if (!mask) return Array.from(v);
  if (mask.length !== v.length) throw new Error(`applyMask: mask ${mask.length} vs vector ${v.length}`);
  return Array.from(v, (x, i) => (mask[i] ? x : 0));
}

// ---------------------------------------------------------------------------------------------
// Gradients

/** h_i = ∇θ ℓ_i for every example (trainableWeights order). */
export function perExampleGrads(model: RefModel, xs: ArrayLike<number>[], ys: Target[]): Vec[] {
  checkBatch(xs, ys);
  return xs.map((x, i) => exampleGrads(model, x, ys[i]!).dTheta);
}
/** g_i = ∇x_i ℓ_i for every example (flattened row-major). */
export function inputGrads(model: RefModel, xs: ArrayLike<number>[], ys: Target[]): Vec[] {
  checkBatch(xs, ys);
  return xs.map((x, i) => exampleGrads(model, x, ys[i]!).dX);
}
/** h̄ = (1/b) Σ h_i, the gradient of the batch-mean loss. */
export function batchGrad(model: RefModel, xs: ArrayLike<number>[], ys: Target[]): Vec {
  return meanVec(perExampleGrads(model, xs, ys));
}
/** Mean loss over the batch. */
export function batchLoss(model: RefModel, xs: ArrayLike<number>[], ys: Target[]): number {
  checkBatch(xs, ys);
  return xs.reduce((a, x, i) => a + exampleGrads(model, x, ys[i]!).loss, 0) / xs.length;
}
function checkBatch(xs: ArrayLike<number>[], ys: Target[]): void {
  if (xs.length === 0) throw new Error('empty batch');
  if (xs.length !== ys.length) throw new Error(`batch: ${xs.length} inputs vs ${ys.length} targets`);
}

// ---------------------------------------------------------------------------------------------
// Step-consistency (weights)

/** The `gradient` directions (Def. 2.7): `[+η h̄/‖h̄‖∞, −η h̄/‖h̄‖∞]`; null when h̄ = 0. */
export function gradientDirections(hbar: ArrayLike<number>, eta = 1e-3): Vec[] | null {
  const m = normInf(hbar);
  if (!(m > 0) || !Number.isFinite(m)) return null;
  const w = scale(hbar, eta / m);
  return [w, scale(w, -1)];
}

/**
 * The `per-example` directions (Def. 2.6): `±η h_k/‖h_k‖` for the first `n` examples
 * (order: +k0, −k0, +k1, −k1, …); a zero h_k gives no direction.
 */
export function perExampleDirections(hs: ArrayLike<number>[], n = 4, eta = 1e-3): Vec[] {
  const out: Vec[] = [];
  for (const h of hs.slice(0, Math.min(n, hs.length))) {
    const nh = norm(h);
    if (!(nh > 0) || !Number.isFinite(nh)) continue;
    const w = scale(h, eta / nh);
    out.push(w, scale(w, -1));
  }
  return out;
}

export interface StepConsistency {
  kappaW: number | null;
  cosSimW: number | null;
  diversityW: number | null;
  coherenceW: number | null;
}

/**
 * The four step-consistency metrics from explicit vectors: `h0 = h̄(θ)`, `hk[k] = h̄(θ + ω_k)`,
 * `omegas[k] = ω_k`, `theta = θ` (all already masked if a mask is on).
 */
export function stepConsistencyFromVectors(
  h0: ArrayLike<number>, hk: ArrayLike<number>[], omegas: ArrayLike<number>[], theta: ArrayLike<number>,
): StepConsistency {
  if (hk.length !== omegas.length) throw new Error('stepConsistencyFromVectors: hk / omegas length mismatch');
  if (hk.length === 0) return { kappaW: null, cosSimW: null, diversityW: null, coherenceW: null };
  const n0 = norm(h0);
  const nTheta = norm(theta);
  // kappaW = max_k ‖h̄_k − h̄₀‖ ‖θ‖ / (‖ω_k‖ ‖h̄₀‖)
  let kappa: number | null = -Infinity;
  for (let k = 0; k < hk.length; k++) {
    const den = norm(omegas[k]!) * n0;
    if (!(den > 0) || !Number.isFinite(den)) { kappa = null; break; }
    kappa = Math.max(kappa, (norm(sub(hk[k]!, h0)) * nTheta) / den);
  }
  // cosSimW = min_k cos(h̄_k, h̄₀)
  let cos: number | null = Infinity;
  for (const h of hk) {
    const den = norm(h) * n0;
    if (!(den > 0) || !Number.isFinite(den)) { cos = null; break; }
    cos = Math.min(cos, dot(h, h0) / den);
  }
  // diversityW = Σ‖h̄_k‖² / ‖Σ h̄_k‖²
  const sumSq = hk.reduce((a, h) => a + dot(h, h), 0);
  const s = sumVec(hk);
  const sNorm2 = dot(s, s);
  const diversityW = sNorm2 > 0 ? finiteOrNull(sumSq / sNorm2) : null;
  // coherenceW = Σ⟨h̄₀, h̄_k⟩ / Σ‖h̄_k‖²
  const coherenceW = sumSq > 0 ? finiteOrNull(hk.reduce((a, h) => a + dot(h0, h), 0) / sumSq) : null;
  return {
    kappaW: kappa === null ? null : finiteOrNull(kappa),
    cosSimW: cos === null ? null : finiteOrNull(cos),
    diversityW,
    coherenceW,
  };
}

export interface WOptions {
  /** perturbation scale η (default 1e-3), used for the default `gradient` directions */
  eta?: number;
  /**
   * explicit perturbation directions ω_k (flat, trainableWeights order); default: the two
   * `gradient` directions ±η h̄/‖h̄‖∞. With a mask, explicit directions are masked too.
   */
  directions?: ArrayLike<number>[];
  /** flat parameter mask (see {@link maskFromIndices}) */
  mask?: readonly boolean[];
}

/**
 * kappaW, cosSimW, diversityW, coherenceW on one batch: h̄₀ = h̄(θ), h̄_k = h̄(θ + ω_k)
 * recomputed on a float64 copy of the model.
 */
export function stepConsistencyW(model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: WOptions = {}): StepConsistency {
  const mask = opts.mask;
  const theta = flattenParams(model);
  const h0 = applyMask(batchGrad(model, xs, ys), mask);
  const omegas = opts.directions
    ? opts.directions.map((w) => applyMask(w, mask))
    : gradientDirections(h0, opts.eta ?? 1e-3);
  if (!omegas) return { kappaW: null, cosSimW: null, diversityW: null, coherenceW: null };
  const hk = omegas.map((w) => applyMask(batchGrad(withParams(model, add(theta, w)), xs, ys), mask));
  return stepConsistencyFromVectors(h0, hk, omegas, applyMask(theta, mask));
}

/** Def. 2.5 (i = j): `max_k ‖h̄_k − h̄₀‖ ‖θ‖ / (‖ω_k‖ ‖h̄₀‖)`. */
export const kappaW = (model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: WOptions = {}): number | null =>
  stepConsistencyW(model, xs, ys, opts).kappaW;
/** eq. 4.1: `min_k cos(h̄_k, h̄₀)`. */
export const cosSimW = (model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: WOptions = {}): number | null =>
  stepConsistencyW(model, xs, ys, opts).cosSimW;
/** eq. 4.2: `Σ_k ‖h̄_k‖² / ‖Σ_k h̄_k‖²`. */
export const diversityW = (model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: WOptions = {}): number | null =>
  stepConsistencyW(model, xs, ys, opts).diversityW;
/** eq. 4.3: `Σ_k ⟨h̄₀, h̄_k⟩ / Σ_k ‖h̄_k‖²`. */
export const coherenceW = (model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: WOptions = {}): number | null =>
  stepConsistencyW(model, xs, ys, opts).coherenceW;

/** `‖h̄_{t+1} − h̄_t‖ ‖θ_t‖ / (‖θ_{t+1} − θ_t‖ ‖h̄_t‖)`. */
export function kappaWStep(
  hPrev: ArrayLike<number>, hNext: ArrayLike<number>, thetaPrev: ArrayLike<number>, thetaNext: ArrayLike<number>,
): number | null {
  const den = norm(sub(thetaNext, thetaPrev)) * norm(hPrev);
  if (!(den > 0) || !Number.isFinite(den)) return null;
  return finiteOrNull((norm(sub(hNext, hPrev)) * norm(thetaPrev)) / den);
}

// ---------------------------------------------------------------------------------------------
// Batch-dissonance (inputs)

export interface XOptions {
  /** perturbation scale η (default 1e-3) */
  eta?: number;
  /** number of examples whose input gradients give directions (default 4; min(b, n) used) */
  n?: number;
  /** flat parameter mask applied to the h_i */
  mask?: readonly boolean[];
}

/**
 * kappaX (eq. 3.16 with Def. 3.5): directions δ_k = ±η g_k/‖g_k‖ for the first min(b, n)
 * examples, each added to every example; `mean_i max_k ‖h_i(x_i+δ_k) − h_i(x_i)‖ ‖x_i‖ /
 * (‖δ_k‖ ‖h_i(x_i)‖)`. Zero-g directions are skipped; examples with h_i = 0 are left out of
 * the mean; null when nothing is left.
 */
export function kappaX(model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: XOptions = {}): number | null {
  checkBatch(xs, ys);
  const eta = opts.eta ?? 1e-3;
  const n = Math.min(xs.length, opts.n ?? 4);
  const base = xs.map((x, i) => exampleGrads(model, x, ys[i]!));
  const deltas: Vec[] = [];
  for (let k = 0; k < n; k++) {
    const g = base[k]!.dX;
    const ng = norm(g);
    if (!(ng > 0) || !Number.isFinite(ng)) continue;
    const d = scale(g, eta / ng);
    deltas.push(d, scale(d, -1));
  }
  if (deltas.length === 0) return null;
  let total = 0;
  let count = 0;
  for (let i = 0; i < xs.length; i++) {
    const hi = applyMask(base[i]!.dTheta, opts.mask);
    const nh = norm(hi);
    if (!(nh > 0) || !Number.isFinite(nh)) continue;
    const nx = norm(xs[i]!);
    let best = -Infinity;
    for (const d of deltas) {
      const hp = applyMask(exampleGrads(model, add(xs[i]!, d), ys[i]!).dTheta, opts.mask);
      best = Math.max(best, (norm(sub(hp, hi)) * nx) / (norm(d) * nh));
    }
    if (!Number.isFinite(best)) continue;
    total += best;
    count++;
  }
  return count > 0 ? total / count : null;
}

// ---------------------------------------------------------------------------------------------
// Stable rank

/**
 * Singular values of the matrix whose COLUMNS are given, by one-sided (Hestenes) Jacobi on the
 * explicit matrix (on its transpose when it has more columns than rows). Robust in float64;
 * no Gram matrix is formed.
 */
export function singularValues(columns: ArrayLike<number>[]): number[] {
  if (columns.length === 0) return [];
  const d = columns[0]!.length;
  const b = columns.length;
  // Work on a list of vectors U (each of length m), count ≤ m, orthogonalising pairwise.
  let U: number[][];
  if (b <= d) U = columns.map((c) => Array.from(c));
  else {
    U = [];
    for (let r = 0; r < d; r++) U.push(columns.map((c) => c[r]!));
  }
  const k = U.length;
  const m = U[0]!.length;
  const tol = Math.max(1e-15, m * 2.220446049250313e-16);
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      for (let q = p + 1; q < k; q++) {
        const up = U[p]!, uq = U[q]!;
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) { alpha += up[i]! * up[i]!; beta += uq[i]! * uq[i]!; gamma += up[i]! * uq[i]!; }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const a = up[i]!, bb = uq[i]!;
          up[i] = c * a - s * bb;
          uq[i] = s * a + c * bb;
        }
      }
    }
    if (!rotated) break;
  }
  return U.map((u) => norm(u)).sort((x, y) => y - x);
}

/** R(A) = ‖A‖_F² / ‖A‖₂² for A with the given columns; null when A = 0 (or not finite). */
export function stableRank(columns: ArrayLike<number>[]): number | null {
  if (columns.length === 0) return null;
  let fro2 = 0;
  for (const c of columns) fro2 += dot(c, c);
  const s1 = singularValues(columns)[0]!;
  const den = s1 * s1;
  if (!(den > 0) || !Number.isFinite(den)) return null;
  return finiteOrNull(fro2 / den);
}

/** eq. 3.18: stable rank of the input gradients g_i of one batch (as columns). */
export const stableRankX = (model: RefModel, xs: ArrayLike<number>[], ys: Target[]): number | null =>
  stableRank(inputGrads(model, xs, ys));

/** Stable rank of the per-example weight gradients h_i of one batch (as columns), masked. */
export const stableRankW = (model: RefModel, xs: ArrayLike<number>[], ys: Target[], mask?: readonly boolean[]): number | null =>
  stableRank(perExampleGrads(model, xs, ys).map((h) => applyMask(h, mask)));

/** mulberry32: a small seeded PRNG returning uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sampler (Box–Muller) over a uniform source. */
export function gaussian(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u <= 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * E[R(Y)] for Y a d×b matrix of i.i.d. standard normals, by direct Monte Carlo over `samples`
 * explicit matrices (seeded). Small shapes only.
 */
export function expectedGaussianStableRank(d: number, b: number, samples = 2000, seed = 12345): number {
  const gauss = gaussian(mulberry32(seed));
  let total = 0;
  for (let s = 0; s < samples; s++) {
    const cols: number[][] = [];
    for (let j = 0; j < b; j++) {
      const c = new Array<number>(d);
      for (let i = 0; i < d; i++) c[i] = gauss();
      cols.push(c);
    }
    total += stableRank(cols)!;
  }
  return total / samples;
}

export interface RankOptions {
  /** Monte-Carlo samples for E[R(Y)] (default 2000) */
  samples?: number;
  /** PRNG seed (default 12345) */
  seed?: number;
  /** flat parameter mask (rankW only) */
  mask?: readonly boolean[];
}

/** eq. 3.20 with h = h_X: stableRankX / E[R(Y)], Y Gaussian of the shape (input size × b). */
export function rankX(model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: RankOptions = {}): number | null {
  const g = inputGrads(model, xs, ys);
  const r = stableRank(g);
  if (r === null) return null;
  return finiteOrNull(r / expectedGaussianStableRank(g[0]!.length, g.length, opts.samples, opts.seed));
}

/**
 * eq. 3.20 with h = h_W: stableRankW / E[R(Y)], Y Gaussian of shape (parameter count × b).
 * With a mask the row count is the number of kept coordinates.
 */
export function rankW(model: RefModel, xs: ArrayLike<number>[], ys: Target[], opts: RankOptions = {}): number | null {
  const hs = perExampleGrads(model, xs, ys).map((h) => applyMask(h, opts.mask));
  const r = stableRank(hs);
  if (r === null) return null;
  const d = opts.mask ? opts.mask.filter(Boolean).length : hs[0]!.length;
  return finiteOrNull(r / expectedGaussianStableRank(d, hs.length, opts.samples, opts.seed));
}

// ---------------------------------------------------------------------------------------------
// Metrics of explicit gradient vectors

/** eq. 3.24: `−min(min_{i<j} cos(h̄_i, h̄_j), 0)` over n ≥ 2 batch gradients; null otherwise. */
export function confusion(batchGrads: ArrayLike<number>[]): number | null {
  if (batchGrads.length < 2) return null;
  let m = Infinity;
  for (let i = 0; i < batchGrads.length; i++) {
    for (let j = i + 1; j < batchGrads.length; j++) {
      const den = norm(batchGrads[i]!) * norm(batchGrads[j]!);
      if (!(den > 0) || !Number.isFinite(den)) return null;
      m = Math.min(m, dot(batchGrads[i]!, batchGrads[j]!) / den);
    }
  }
  return finiteOrNull(m >= 0 ? 0 : -m);
}

/** eq. 3.25: `Σ‖h̄_i‖² / ‖Σ h̄_i‖²` over n ≥ 2 batch gradients; null otherwise. */
export function diversity(batchGrads: ArrayLike<number>[]): number | null {
  if (batchGrads.length < 2) return null;
  const num = batchGrads.reduce((a, h) => a + dot(h, h), 0);
  const s = sumVec(batchGrads);
  const den = dot(s, s);
  if (!(den > 0) || !Number.isFinite(den)) return null;
  return finiteOrNull(num / den);
}

/** eq. 3.26: `Σ_i ⟨h̄, h_i⟩ / Σ_i ‖h_i‖²`, h̄ the mean of the per-example gradients. */
export function coherence(perExample: ArrayLike<number>[]): number | null {
  if (perExample.length === 0) return null;
  const hbar = meanVec(perExample);
  const den = perExample.reduce((a, h) => a + dot(h, h), 0);
  if (!(den > 0) || !Number.isFinite(den)) return null;
  return finiteOrNull(perExample.reduce((a, h) => a + dot(hbar, h), 0) / den);
}

/**
 * McCandlish simple noise scale: `tr(Σ)/‖G‖²` with `tr(Σ) = Σ_i ‖h_i − h̄‖²/(b − 1)` and
 * `‖G‖² = ‖h̄‖² − tr(Σ)/b`; null when b < 2 or the ‖G‖² estimate is not positive.
 */
export function noiseScale(perExample: ArrayLike<number>[]): number | null {
  const b = perExample.length;
  if (b < 2) return null;
  const hbar = meanVec(perExample);
  let tr = 0;
  for (const h of perExample) { const r = sub(h, hbar); tr += dot(r, r); }
  tr /= b - 1;
  const G2 = dot(hbar, hbar) - tr / b;
  if (!(G2 > 0) || !Number.isFinite(G2)) return null;
  return finiteOrNull(tr / G2);
}

/** `tr(Σ) = Σ_i ‖h_i − h̄‖²/(b − 1)` (the noise scale's numerator); null when b < 2. */
export function traceSigma(perExample: ArrayLike<number>[]): number | null {
  const b = perExample.length;
  if (b < 2) return null;
  const hbar = meanVec(perExample);
  let tr = 0;
  for (const h of perExample) { const r = sub(h, hbar); tr += dot(r, r); }
  return finiteOrNull(tr / (b - 1));
}

/** `‖G‖² ≈ ‖h̄‖² − tr(Σ)/b` (the noise scale's denominator, possibly ≤ 0); null when b < 2. */
export function gradSqEstimate(perExample: ArrayLike<number>[]): number | null {
  const tr = traceSigma(perExample);
  if (tr === null) return null;
  const hbar = meanVec(perExample);
  return finiteOrNull(dot(hbar, hbar) - tr / perExample.length);
}

/** The `descent` directions: `−s h_k/‖h_k‖` for the first n examples, one-sided; zero h_k skipped. */
export function descentDirections(hs: ArrayLike<number>[], n: number, s: number): Vec[] {
  return hs.slice(0, Math.min(n, hs.length)).flatMap((h) => {
    const nh = norm(h);
    return nh > 0 && Number.isFinite(nh) ? [scale(h, -s / nh)] : [];
  });
}

export interface UpdateMetrics {
  kappaWUpdate: number | null;
  cosSimWUpdate: number | null;
  descentRatio: number | null;
  localSmoothness: number | null;
}

/**
 * Step-consistency along an update θ → θ⁺ on one batch, recomputed on float64 copies:
 * h̄ = h̄(θ), h̄⁺ = h̄(θ⁺), Δ = θ⁺ − θ, L and L⁺ the batch losses (vectors masked if a mask is on,
 * except in descentRatio's ⟨h̄, Δ⟩).
 */
export function updateMetrics(before: RefModel, after: RefModel, xs: ArrayLike<number>[], ys: Target[], mask?: readonly boolean[]): UpdateMetrics {
  const theta = flattenParams(before);
  const delta = applyMask(sub(flattenParams(after), theta), mask);
  const h = applyMask(batchGrad(before, xs, ys), mask);
  const hp = applyMask(batchGrad(after, xs, ys), mask);
  const diff = norm(sub(hp, h));
  const nh = norm(h);
  const nd = norm(delta);
  // ⟨h̄, Δ⟩ predicts the change of the (unmasked) loss: never masked.
  const pred = dot(batchGrad(before, xs, ys), sub(flattenParams(after), theta));
  return {
    kappaWUpdate: nh > 0 && nd > 0 ? finiteOrNull((diff * norm(applyMask(theta, mask))) / (nd * nh)) : null,
    cosSimWUpdate: nh > 0 && norm(hp) > 0 ? finiteOrNull(dot(hp, h) / (norm(hp) * nh)) : null,
    descentRatio: pred < 0 ? finiteOrNull((batchLoss(before, xs, ys) - batchLoss(after, xs, ys)) / -pred) : null,
    localSmoothness: nd > 0 ? finiteOrNull(diff / nd) : null,
  };
}
