/**
 * Step-consistency metrics (conditioning with respect to the weights, docs/metrics.md): pure
 * functions of a small Gram matrix of batch gradients at the current and perturbed weights.
 */
import { distanceSq, entry, type Gram } from './gram.js';
import { ok, ratio, undef, type MetricValue } from './result.js';

/**
 * What the gradient engine hands over for the `weightPerturbation` group (one batch `χ`).
 * When a mask is on, every vector was masked before the inner products and norms.
 */
export interface WeightSamples {
  /**
   * The `(K+1) × (K+1)` Gram matrix of `[h̄₀, h̄₁, …, h̄_K]`: index 0 is the unperturbed batch
   * gradient `h̄(θ, χ)`, index `k ≥ 1` is `h̄(θ + ω_k, χ)` on the same batch.
   */
  readonly gram: Gram;
  /** `‖ω_k‖` as constructed (not re-measured), `k = 1..K` stored at index `k − 1`. */
  readonly omegaNorms: readonly number[];
  /** `‖θ‖`. */
  readonly thetaNorm: number;
  /**
   * Optional `‖h̄_k − h̄₀‖` measured directly (index `k − 1`). When given, `kappaW` uses it instead
   * of `sqrt(G_kk + G_00 − 2 G_0k)`, which cancels badly when `h̄_k ≈ h̄₀` (a float32 Gram
   * loses the difference entirely once `‖h̄_k − h̄₀‖ / ‖h̄₀‖` nears 1e-3).
   */
  readonly diffNorms?: readonly number[];
}

/** The `step` group: numbers from two consecutive optimizer steps `t → t+1`; costs nothing extra. */
export interface StepSamples {
  /** `‖h̄_{t+1} − h̄_t‖`. */
  readonly gradDiffNorm: number;
  /** `‖h̄_t‖`. */
  readonly gradNorm: number;
  /** `‖θ_t‖`. */
  readonly thetaNorm: number;
  /** `‖θ_{t+1} − θ_t‖` (for plain SGD, `lr · ‖h̄_t‖`). */
  readonly stepNorm: number;
}

/** The number of perturbed samples `K`, checking the shapes agree. */
function perturbations(s: WeightSamples): number {
  const k = s.gram.n - 1;
  if (k < 0) throw new RangeError('WeightSamples: the Gram matrix must hold at least h̄₀');
  if (s.omegaNorms.length !== k) {
    throw new RangeError(`WeightSamples: ${k} perturbed gradients but ${s.omegaNorms.length} omegaNorms`);
  }
  if (s.diffNorms !== undefined && s.diffNorms.length !== k) {
    throw new RangeError(`WeightSamples: ${k} perturbed gradients but ${s.diffNorms.length} diffNorms`);
  }
  return k;
}

/**
 * `kappaW = max_k ‖h̄_k − h̄₀‖ · ‖θ‖ / (‖ω_k‖ · ‖h̄₀‖)` (thesis Def. 2.5, i = j), with
 * `‖h̄_k − h̄₀‖² = G_kk + G_00 − 2 G_0k` unless `diffNorms` is given.
 */
export function kappaW(s: WeightSamples): MetricValue {
  const k = perturbations(s);
  if (k === 0) return undef('needs at least one weight perturbation');
  const g0 = Math.sqrt(entry(s.gram, 0, 0));
  if (!(g0 > 0)) return undef(Number.isNaN(g0) ? 'non-finite gradient' : 'zero batch gradient (‖h̄₀‖ = 0)');
  let best = -Infinity;
  for (let j = 1; j <= k; j++) {
    const w = s.omegaNorms[j - 1]!;
    if (!(w > 0) || !Number.isFinite(w)) return undef(`perturbation ${j} has norm ${w}`);
    const diff = s.diffNorms !== undefined ? s.diffNorms[j - 1]! : Math.sqrt(distanceSq(s.gram, j, 0));
    const r = (diff * s.thetaNorm) / (w * g0);
    if (Number.isNaN(r)) return undef('non-finite gradient or weight norm');
    best = Math.max(best, r);
  }
  return ok(best);
}

/** `cosSimW = min_k ⟨h̄_k, h̄₀⟩ / (‖h̄_k‖ ‖h̄₀‖)` (thesis eq. 4.1). */
export function cosSimW(s: WeightSamples): MetricValue {
  const k = perturbations(s);
  if (k === 0) return undef('needs at least one weight perturbation');
  const g00 = entry(s.gram, 0, 0);
  if (!(g00 > 0)) return undef(Number.isNaN(g00) ? 'non-finite gradient' : 'zero batch gradient (‖h̄₀‖ = 0)');
  let worst = Infinity;
  for (let j = 1; j <= k; j++) {
    const gjj = entry(s.gram, j, j);
    if (!(gjj > 0)) return undef(Number.isNaN(gjj) ? 'non-finite gradient' : `zero perturbed gradient (‖h̄_${j}‖ = 0)`);
    const c = entry(s.gram, 0, j) / Math.sqrt(gjj * g00);
    if (Number.isNaN(c)) return undef('non-finite gradient');
    worst = Math.min(worst, c);
  }
  return ok(worst);
}

/** `diversityW = Σ_k ‖h̄_k‖² / ‖Σ_k h̄_k‖²`, k ≥ 1 (thesis eq. 4.2). */
export function diversityW(s: WeightSamples): MetricValue {
  const k = perturbations(s);
  if (k === 0) return undef('needs at least one weight perturbation');
  let num = 0;
  let den = 0;
  for (let i = 1; i <= k; i++) {
    num += entry(s.gram, i, i);
    for (let j = 1; j <= k; j++) den += entry(s.gram, i, j);
  }
  if (den <= 0) return undef('the perturbed gradients sum to zero');
  return ratio(num, den, 'the perturbed gradients sum to zero');
}

/** `coherenceW = Σ_k ⟨h̄₀, h̄_k⟩ / Σ_k ‖h̄_k‖²`, k ≥ 1 (thesis eq. 4.3). */
export function coherenceW(s: WeightSamples): MetricValue {
  const k = perturbations(s);
  if (k === 0) return undef('needs at least one weight perturbation');
  let num = 0;
  let den = 0;
  for (let j = 1; j <= k; j++) {
    num += entry(s.gram, 0, j);
    den += entry(s.gram, j, j);
  }
  return ratio(num, den, 'all perturbed gradients are zero');
}

/**
 * `kappaWStep = ‖h̄_{t+1} − h̄_t‖ · ‖θ_t‖ / (‖θ_{t+1} − θ_t‖ · ‖h̄_t‖)` (thesis section 2.2,
 * n = 1, i ≠ j). `null` when the step or the gradient is zero.
 */
export function kappaWStep(s: StepSamples): MetricValue {
  if (s.stepNorm === 0) return undef('zero step (‖θ_{t+1} − θ_t‖ = 0)');
  if (s.gradNorm === 0) return undef('zero batch gradient (‖h̄_t‖ = 0)');
  return ratio(s.gradDiffNorm * s.thetaNorm, s.stepNorm * s.gradNorm, 'non-finite step or gradient norm');
}

/**
 * `StepSamples` from the 2 × 2 Gram matrix of `[h̄_t, h̄_{t+1}]` and the two weight-space norms
 * (a convenience for an engine that keeps inner products rather than differences).
 */
export function stepSamplesFromGram(gram: Gram, thetaNorm: number, stepNorm: number): StepSamples {
  if (gram.n !== 2) throw new RangeError(`stepSamplesFromGram: needs the 2 × 2 Gram of [h̄_t, h̄_{t+1}], got ${gram.n} × ${gram.n}`);
  return {
    gradDiffNorm: Math.sqrt(distanceSq(gram, 0, 1)),
    gradNorm: Math.sqrt(entry(gram, 0, 0)),
    thetaNorm,
    stepNorm,
  };
}
