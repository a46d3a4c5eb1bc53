/**
 * Step-consistency along the update the optimizer actually took, on the step's own batch: the
 * gradient and loss of batch `χ_t` before the update (`θ_t`) and after it (`θ_{t+1}`). Keeping
 * the batch fixed separates the two sources of gradient variance: unlike `kappaWStep`, which
 * compares the gradients of two different batches, nothing here moves when only the batch
 * changes. Pure functions of a few float64 numbers.
 */
import { entry, type Gram } from './gram.js';
import { ok, ratio, undef, type MetricValue } from './result.js';

/** What the engine hands over for the `update` group (masked vectors if a mask is on). */
export interface UpdateSamples {
  /** The 2 × 2 Gram matrix of `[h̄, h̄⁺]`: `h̄ = h̄(θ_t, χ_t)`, `h̄⁺ = h̄(θ_{t+1}, χ_t)`. */
  readonly gram: Gram;
  /** `‖h̄⁺ − h̄‖`, each difference taken in float64 (the Gram would cancel). */
  readonly gradDiffNorm: number;
  /** `‖θ_t‖`. */
  readonly thetaNorm: number;
  /** `‖Δ‖ = ‖θ_{t+1} − θ_t‖`. */
  readonly updateNorm: number;
  /** `⟨h̄, Δ⟩`: minus the first-order predicted decrease of the loss (never masked: the loss is not). */
  readonly gradDotUpdate: number;
  /** `L(θ_t, χ_t)` and `L(θ_{t+1}, χ_t)`. */
  readonly lossBefore: number;
  readonly lossAfter: number;
}

function gradientsDefined(s: UpdateSamples): string | null {
  const g = entry(s.gram, 0, 0);
  if (Number.isNaN(g) || !Number.isFinite(s.gradDiffNorm)) return 'non-finite gradient';
  if (!(g > 0)) return 'zero batch gradient (‖h̄‖ = 0)';
  if (!(s.updateNorm > 0)) return Number.isNaN(s.updateNorm) ? 'non-finite update' : 'zero update (‖Δ‖ = 0)';
  return null;
}

/** `kappaWUpdate = ‖h̄⁺ − h̄‖ · ‖θ_t‖ / (‖Δ‖ · ‖h̄‖)`: Def. 2.5 with the perturbation `ω = Δ`. */
export function kappaWUpdate(s: UpdateSamples): MetricValue {
  const bad = gradientsDefined(s);
  if (bad) return undef(bad);
  return ratio(s.gradDiffNorm * s.thetaNorm, s.updateNorm * Math.sqrt(entry(s.gram, 0, 0)), 'non-finite weight norm');
}

/** `cosSimWUpdate = ⟨h̄⁺, h̄⟩ / (‖h̄⁺‖ ‖h̄‖)`: eq. 4.1 with the one sample `ω = Δ`. */
export function cosSimWUpdate(s: UpdateSamples): MetricValue {
  const g00 = entry(s.gram, 0, 0);
  const g11 = entry(s.gram, 1, 1);
  if (Number.isNaN(g00) || Number.isNaN(g11)) return undef('non-finite gradient');
  if (!(g00 > 0)) return undef('zero batch gradient (‖h̄‖ = 0)');
  if (!(g11 > 0)) return undef('zero batch gradient after the update (‖h̄⁺‖ = 0)');
  return ok(entry(s.gram, 0, 1) / Math.sqrt(g00 * g11), 'non-finite gradient');
}

/**
 * `descentRatio = (L − L⁺) / (−⟨h̄, Δ⟩)`: the decrease the step achieved over the decrease its
 * first-order model predicted (the trust-region ratio). About 1 while the step stays where the
 * gradient is consistent, below ½ when it outruns that region, negative when the loss rose.
 * `null` when `⟨h̄, Δ⟩ ≥ 0` (the update does not point downhill: nothing was predicted).
 */
export function descentRatio(s: UpdateSamples): MetricValue {
  if (!Number.isFinite(s.lossBefore) || !Number.isFinite(s.lossAfter)) return undef('non-finite loss');
  if (Number.isNaN(s.gradDotUpdate)) return undef('non-finite gradient or update');
  if (!(s.gradDotUpdate < 0)) return undef('the update does not point downhill (⟨h̄, Δ⟩ ≥ 0)');
  return ok((s.lossBefore - s.lossAfter) / -s.gradDotUpdate);
}

/**
 * `localSmoothness = ‖h̄⁺ − h̄‖ / ‖Δ‖`: the gradient's local Lipschitz constant along the update
 * (Malitsky & Mishchenko 2020, "Adaptive Gradient Descent without Descent", use it to bound the
 * step size: gradient descent with `lr ≤ 1 / (2 · localSmoothness)` stays stable).
 */
export function localSmoothness(s: UpdateSamples): MetricValue {
  if (!Number.isFinite(s.gradDiffNorm)) return undef('non-finite gradient');
  if (!(s.updateNorm > 0)) return undef(Number.isNaN(s.updateNorm) ? 'non-finite update' : 'zero update (‖Δ‖ = 0)');
  return ratio(s.gradDiffNorm, s.updateNorm, 'non-finite update');
}
