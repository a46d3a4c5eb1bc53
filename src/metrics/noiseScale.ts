/**
 * The simple noise scale of McCandlish et al. (2018), "An Empirical Model of Large-Batch
 * Training", from the Gram matrix of one batch's per-example gradients (docs/metrics.md).
 */
import { sumAll, trace } from './gram.js';
import type { PerExampleSamples } from './batchDissonance.js';
import { ok, undef, type MetricValue } from './result.js';

export const NOISE_DOMINATES = 'noise dominates: estimated |G|^2 <= 0';

/**
 * `noiseScale = tr(Σ) / ‖G‖²` with `tr(Σ) = Σ_i ‖h_i − h̄‖² / (b − 1) = (tr G − sum(G)/b) / (b − 1)`
 * and `‖G‖² = ‖h̄‖² − tr(Σ)/b`, `‖h̄‖² = sum(G)/b²`. `tr(Σ)` is a sum of squares, so round-off
 * below zero (identical examples) is clamped to 0. `null` when `b < 2` or the estimate of
 * `‖G‖²` is not positive.
 */
export function noiseScale(s: PerExampleSamples): MetricValue {
  const parts = noiseParts(s);
  if (typeof parts === 'string') return undef(parts);
  if (!(parts.gradSq > 0)) return undef(NOISE_DOMINATES);
  return ok(parts.traceSigma / parts.gradSq);
}

/**
 * `traceSigma = tr(Σ) ≈ Σ_i ‖h_i − h̄‖² / (b − 1)`: the per-example gradient variance, unbiased.
 * The numerator of the noise scale; AdaScale's σ² and CABS' tr(Σ). Smoothing policies average it
 * on its own, as McCandlish et al. recommend, rather than averaging the ratio.
 */
export function traceSigma(s: PerExampleSamples): MetricValue {
  const parts = noiseParts(s);
  return typeof parts === 'string' ? undef(parts) : ok(parts.traceSigma);
}

/**
 * `gradSqEstimate = ‖G‖² ≈ ‖h̄‖² − tr(Σ)/b`: the unbiased estimate of the true gradient's squared
 * norm (the denominator of the noise scale; AdaScale's μ²). May be negative when noise dominates:
 * that is the estimate, not an error.
 */
export function gradSqEstimate(s: PerExampleSamples): MetricValue {
  const parts = noiseParts(s);
  return typeof parts === 'string' ? undef(parts) : ok(parts.gradSq);
}

/** tr(Σ) and ‖G‖² from the per-example Gram matrix, or why they are undefined. */
function noiseParts(s: PerExampleSamples): { traceSigma: number; gradSq: number } | string {
  const b = s.gram.n;
  if (b < 2) return 'needs at least 2 examples';
  const tr = trace(s.gram);
  const sum = sumAll(s.gram);
  if (!Number.isFinite(tr) || !Number.isFinite(sum)) return 'non-finite gradient';
  const traceSigma = Math.max(0, (tr - sum / b) / (b - 1));
  const meanGradSq = sum / (b * b);
  return { traceSigma, gradSq: meanGradSq - traceSigma / b };
}
