/**
 * The gradient-noise quantities shared by `noise-scale`, `adascale`, `goodput`, `divebatch` and
 * `batch-dissonance-batch`, from the `perExample` group's `traceSigma` = tr(Σ) (per-example
 * gradient covariance, unbiased) and `gradSqEstimate` = an unbiased estimate of ‖G‖², smoothed
 * separately, as McCandlish et al. (2018, appendix A) recommend for their ratio.
 *
 * AdaScale's gain ratio (Johnson, Agrawal, Gu & Guestrin, ICML 2020, "AdaScale SGD: A
 * User-Friendly Algorithm for Distributed Training"): with σ² the variance of the gradient of
 * one *base* batch b₀ and μ² = ‖G‖², a batch S·b₀ gives r = (σ² + μ²) / (σ²/S + μ²). Per-example
 * tr(Σ) is the variance of a batch of one, so σ² = tr(Σ)/b₀.
 */
import type { MetricSample } from '../../src/stream/types.js';
import { EMPTY_EMA, emaPush, emaValue, type Ema } from './ema.js';
import { valueOf } from './signals.js';

export interface NoiseEstimate {
  /** EMA of tr(Σ). */
  trace: Ema;
  /** EMA of the unbiased ‖G‖² (single samples may be negative; the average rarely is). */
  gradSq: Ema;
  /** Step of the last sample used (for per-step decay), null before the first. */
  lastStep: number | null;
}

export const NO_NOISE: NoiseEstimate = { trace: EMPTY_EMA, gradSq: EMPTY_EMA, lastStep: null };

/**
 * The estimate after one sample (unchanged when the sample is not `perExample` or either value
 * is null). `decay(steps)` gives the decay for a sample `steps` steps after the previous one.
 */
export function observeNoise(n: NoiseEstimate, sample: MetricSample, decay: (steps: number) => number): NoiseEstimate {
  if (sample.group !== 'perExample') return n;
  const trace = valueOf(sample, 'traceSigma');
  const gradSq = valueOf(sample, 'gradSqEstimate');
  if (trace === null || gradSq === null) return n;
  const d = decay(n.lastStep === null ? 1 : sample.step - n.lastStep);
  return { trace: emaPush(n.trace, trace, d), gradSq: emaPush(n.gradSq, gradSq, d), lastStep: sample.step };
}

/** The smoothed simple noise scale B = tr(Σ)/‖G‖², or null (no data, or ‖G‖² ≤ 0). */
export function smoothedNoiseScale(n: NoiseEstimate): number | null {
  const t = emaValue(n.trace);
  const g = emaValue(n.gradSq);
  if (t === null || g === null || !(g > 0)) return null;
  return Math.max(0, t) / g;
}

/**
 * AdaScale's gain ratio for a batch of `batch` examples against the base batch `baseBatch`:
 * r = (σ² + μ²)/(σ²/S + μ²) with σ² = tr(Σ)/b₀ and S = batch/b₀. Negative estimates count as 0
 * (as AdaptDL clamps them); with no signal at all the gain is 1. 1 ≤ r ≤ S when S ≥ 1.
 */
export function gainRatio(traceSigma: number, gradSq: number, baseBatch: number, batch: number): number {
  const sigma2 = Math.max(0, traceSigma) / baseBatch;
  const mu2 = Math.max(0, gradSq);
  const scale = batch / baseBatch;
  const den = sigma2 / scale + mu2;
  return den > 0 ? (sigma2 + mu2) / den : 1;
}

/** The gain from the smoothed estimates (1 before the first sample). */
export function smoothedGain(n: NoiseEstimate, baseBatch: number, batch: number): number {
  const t = emaValue(n.trace);
  const g = emaValue(n.gradSq);
  return t === null || g === null ? 1 : gainRatio(t, g, baseBatch, batch);
}
