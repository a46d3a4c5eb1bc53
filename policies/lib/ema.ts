/**
 * Exponential moving averages kept as plain JSON, with the bias correction of Adam (Kingma & Ba
 * 2015) and AdaptDL's noise-scale tracker: the value is `biased / weight`, so the first sample is
 * taken as it is instead of being pulled towards an arbitrary starting value.
 */
export interface Ema {
  biased: number;
  weight: number;
}

export const EMPTY_EMA: Ema = { biased: 0, weight: 0 };

/** `e` after one more sample `x`, the old average decaying by `decay` ∈ [0, 1). */
export function emaPush(e: Ema, x: number, decay: number): Ema {
  return { biased: decay * e.biased + (1 - decay) * x, weight: decay * e.weight + (1 - decay) };
}

/** The average, or null before the first sample. */
export function emaValue(e: Ema): number | null {
  return e.weight > 0 ? e.biased / e.weight : null;
}

/**
 * The decay for a sample that arrives `steps` optimizer steps after the previous one, when the
 * published constant is per step (CABS, AdaScale, the noise scale): groups are sampled every few
 * steps, and a sample k steps later should outweigh the past as k per-step samples would.
 */
export function stepDecay(perStep: number, steps: number): number {
  return perStep ** Math.max(1, steps);
}
