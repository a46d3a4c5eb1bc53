/**
 * The simple noise scale of McCandlish et al. (2018), "An Empirical Model of Large-Batch
 * Training", from the Gram matrix of one batch's per-example gradients (METRICS.md).
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
  const b = s.gram.n;
  if (b < 2) return undef('needs at least 2 examples');
  const tr = trace(s.gram);
  const sum = sumAll(s.gram);
  if (!Number.isFinite(tr) || !Number.isFinite(sum)) return undef('non-finite gradient');
  const traceSigma = Math.max(0, (tr - sum / b) / (b - 1));
  const meanGradSq = sum / (b * b);
  const trueGradSq = meanGradSq - traceSigma / b;
  if (!(trueGradSq > 0)) return undef(NOISE_DOMINATES);
  return ok(traceSigma / trueGradSq);
}
