/**
 * Batch-dissonance metrics (conditioning with respect to the inputs, docs/metrics.md): pure
 * functions of small Gram matrices and norms handed over by the gradient engine.
 */
import { expectedStableRank } from './expectedStableRank.js';
import { entry, largestEigenvalue, sumAll, trace, type Gram } from './gram.js';
import { ok, ratio, undef, type MetricValue } from './result.js';

/** The `perExample` group: one batch of `b` examples. */
export interface PerExampleSamples {
  /** The `b × b` Gram matrix of the per-example weight gradients `h_i = ∇θ ℓ_i` (masked if a mask is on). */
  readonly gram: Gram;
  /** The length of each `h_i`: the number of (kept) parameter coordinates; used by `rankW`. */
  readonly dim: number;
}

/** The `inputGradient` group: one batch of `b` examples. */
export interface InputGradientSamples {
  /** The `b × b` Gram matrix of the per-example input gradients `g_i = ∇x_i ℓ_i`. */
  readonly gram: Gram;
  /** The length of each `g_i` (the flattened input size); used by `rankX`. */
  readonly dim: number;
}

/** The `inputPerturbation` group, for `kappaX` (thesis eq. 3.16 with Def. 3.5). */
export interface KappaXSamples {
  /** `diffNorms[k][i] = ‖h_i(x_i + δ_k) − h_i(x_i)‖`, one row per direction. */
  readonly diffNorms: readonly (readonly number[])[];
  /** `‖h_i(x_i)‖`, length b. */
  readonly gradNorms: readonly number[];
  /** `‖x_i‖`, length b. */
  readonly inputNorms: readonly number[];
  /**
   * `‖δ_k‖` as constructed, one per row of `diffNorms`. A direction built from a zero input
   * gradient is either omitted by the engine or marked here with 0; such a direction is skipped.
   */
  readonly deltaNorms: readonly number[];
}

/** The `multiBatch` group: `n` batches. */
export interface MultiBatchSamples {
  /** The `n × n` Gram matrix of the batch gradients `h̄_1..h̄_n` (masked if a mask is on). */
  readonly gram: Gram;
}

/** `R(A) = ‖A‖_F² / ‖A‖₂² = tr(G) / λ_max(G)` for `G = AᵀA`, the Gram matrix of the columns of `A`. */
export function stableRankOfGram(gram: Gram): MetricValue {
  if (gram.n === 0) return undef('no columns');
  const lambda = largestEigenvalue(gram);
  if (Number.isNaN(lambda)) return undef('non-finite gradient');
  return ratio(trace(gram), lambda, 'all columns are zero');
}

/** `stableRankW`: the stable rank of the per-example weight gradients `h_i` (thesis eq. 3.20, h = h_W). */
export function stableRankW(s: PerExampleSamples): MetricValue {
  return stableRankOfGram(s.gram);
}

/** `rankW = stableRankW / E[R(Y)]`, `Y` a `dim × b` standard Gaussian matrix. */
export function rankW(s: PerExampleSamples): MetricValue {
  return normalisedRank(s.gram, s.dim);
}

/** `stableRankX`: the stable rank of the input gradients `g_i` (thesis eq. 3.18). */
export function stableRankX(s: InputGradientSamples): MetricValue {
  return stableRankOfGram(s.gram);
}

/** `rankX = stableRankX / E[R(Y)]`, `Y` a `dim × b` standard Gaussian matrix (thesis eq. 3.20, h = h_X). */
export function rankX(s: InputGradientSamples): MetricValue {
  return normalisedRank(s.gram, s.dim);
}

function normalisedRank(gram: Gram, dim: number): MetricValue {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`rank: dim must be a positive integer, got ${dim}`);
  const r = stableRankOfGram(gram);
  if (r.value === null) return r;
  return ok(r.value / expectedStableRank(dim, gram.n));
}

/**
 * `coherence = Σ_i ⟨h̄, h_i⟩ / Σ_i ‖h_i‖²` over the examples of one batch (thesis eq. 3.26),
 * with `⟨h̄, h_i⟩ = (1/b) Σ_j G_ij`, so the numerator is `sum(G) / b`.
 */
export function coherence(s: PerExampleSamples): MetricValue {
  const b = s.gram.n;
  if (b === 0) return undef('empty batch');
  return ratio(sumAll(s.gram) / b, trace(s.gram), 'all per-example gradients are zero');
}

/**
 * `kappaX = mean over i of max_k ‖h_i(x_i + δ_k) − h_i(x_i)‖ · ‖x_i‖ / (‖δ_k‖ · ‖h_i(x_i)‖)`.
 * Directions with `‖δ_k‖ = 0` are skipped; examples with `h_i = 0` are left out of the mean;
 * `null` only when nothing is left.
 */
export function kappaX(s: KappaXSamples): MetricValue {
  const b = s.gradNorms.length;
  if (s.inputNorms.length !== b) throw new RangeError(`kappaX: ${b} gradNorms but ${s.inputNorms.length} inputNorms`);
  if (s.diffNorms.length !== s.deltaNorms.length) {
    throw new RangeError(`kappaX: ${s.diffNorms.length} rows of diffNorms but ${s.deltaNorms.length} deltaNorms`);
  }
  s.diffNorms.forEach((row, k) => {
    if (row.length !== b) throw new RangeError(`kappaX: diffNorms[${k}] has ${row.length} entries, expected ${b}`);
  });
  const directions: number[] = [];
  for (let k = 0; k < s.deltaNorms.length; k++) {
    const d = s.deltaNorms[k]!;
    if (d === 0) continue;
    if (!(d > 0) || !Number.isFinite(d)) return undef(`direction ${k} has norm ${d}`);
    directions.push(k);
  }
  if (directions.length === 0) return undef('no input-perturbation direction (all input gradients are zero)');
  if (b === 0) return undef('empty batch');
  let sum = 0;
  let count = 0;
  for (let i = 0; i < b; i++) {
    const g = s.gradNorms[i]!;
    if (g === 0) continue;
    let best = -Infinity;
    for (const k of directions) {
      const r = (s.diffNorms[k]![i]! * s.inputNorms[i]!) / (s.deltaNorms[k]! * g);
      if (Number.isNaN(r)) return undef('non-finite gradient or input norm');
      best = Math.max(best, r);
    }
    sum += best;
    count++;
  }
  if (count === 0) return undef('all per-example gradients are zero');
  return ok(sum / count, 'non-finite gradient or input norm');
}

/**
 * `confusion = −min(min_{i<j} cos(h̄_i, h̄_j), 0)` over `n ≥ 2` batch gradients (thesis eq. 3.24).
 */
export function confusion(s: MultiBatchSamples): MetricValue {
  const n = s.gram.n;
  if (n < 2) return undef('needs at least 2 batches');
  for (let i = 0; i < n; i++) {
    const gii = entry(s.gram, i, i);
    if (Number.isNaN(gii)) return undef('non-finite gradient');
    if (!(gii > 0)) return undef(`zero batch gradient (batch ${i})`);
  }
  let worst = Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = entry(s.gram, i, j) / Math.sqrt(entry(s.gram, i, i) * entry(s.gram, j, j));
      if (Number.isNaN(c)) return undef('non-finite gradient');
      worst = Math.min(worst, c);
    }
  }
  return ok(Math.max(0, -worst));
}

/** `diversity = Σ_i ‖h̄_i‖² / ‖Σ_i h̄_i‖² = tr(G) / sum(G)` over `n ≥ 2` batches (thesis eq. 3.25). */
export function diversity(s: MultiBatchSamples): MetricValue {
  if (s.gram.n < 2) return undef('needs at least 2 batches');
  const den = sumAll(s.gram);
  if (den <= 0) return undef('the batch gradients sum to zero');
  return ratio(trace(s.gram), den, 'the batch gradients sum to zero');
}
