/**
 * Where a run learned fastest and where it got lowest, read from its noisy per-step batch loss
 * the way the thesis reads its curves: the loss is "smoothed over a few hundred iterations"
 * before the point of steepest descent and the point of lowest loss are taken, and the speed is
 * "the highest average decrease in loss" over a stretch of steps (the thesis, figures 2.6, 3.4). The
 * thesis gives no exact window; here it is an option, with these rules:
 *
 * - smoothed loss L̃(t): the mean of the finite batch losses at steps within ±⌊window/2⌋ of t
 *   (a centred moving average; near the ends, over the steps there are);
 * - best sustained rate: the largest (L̃(t) − L̃(t + span)) / span over t, the average decrease
 *   per step over `span` steps; the point of steepest descent is the middle of that stretch;
 * - lowest loss: the minimum of L̃ (the first step reaching it);
 * - final loss: the mean of the finite batch losses over the last `window` steps.
 *
 * A metric at a point is the median of its samples within ±⌊window/2⌋ steps of it: the metric
 * is read at the same resolution as the loss it is compared with.
 */

/** One value of a quantity at a step. */
export interface StepValue {
  step: number;
  value: number;
}

export interface SmoothingOptions {
  /** Steps averaged into each point of the smoothed loss. */
  window: number;
  /** Steps over which a rate of decrease is sustained. */
  span: number;
}

export interface DescentPoints {
  /** Step of steepest descent (the middle of the best stretch) and its rate, loss per step. */
  steepest: { step: number; rate: number } | null;
  steepestReason: string | null;
  /** Step of the lowest smoothed loss, and that loss. */
  lowest: { step: number; loss: number } | null;
  finalLoss: number | null;
  /** The smoothed loss, for plots. */
  smoothed: StepValue[];
}

/** Points with finite values, in step order. */
function finitePoints(points: readonly StepValue[]): StepValue[] {
  return points.filter((p) => Number.isFinite(p.value)).sort((a, b) => a.step - b.step);
}

/** Centred moving average by step distance (see the module comment). */
export function movingAverage(points: readonly StepValue[], window: number): StepValue[] {
  const pts = finitePoints(points);
  const h = Math.floor(window / 2);
  const prefix = new Float64Array(pts.length + 1);
  pts.forEach((p, i) => void (prefix[i + 1] = prefix[i]! + p.value));
  const out: StepValue[] = [];
  let lo = 0;
  let hi = 0;
  for (const p of pts) {
    while (pts[lo]!.step < p.step - h) lo++;
    while (hi < pts.length && pts[hi]!.step <= p.step + h) hi++;
    out.push({ step: p.step, value: (prefix[hi]! - prefix[lo]!) / (hi - lo) });
  }
  return out;
}

/** The best sustained decrease of a smoothed curve over `span` steps. */
function bestRate(smoothed: readonly StepValue[], span: number): { step: number; rate: number } | null {
  let best: { step: number; rate: number } | null = null;
  let j = 0;
  for (let i = 0; i < smoothed.length; i++) {
    const from = smoothed[i]!;
    while (j < smoothed.length && smoothed[j]!.step < from.step + span) j++;
    if (j >= smoothed.length) break;
    const to = smoothed[j]!;
    const rate = (from.value - to.value) / (to.step - from.step);
    if (best === null || rate > best.rate) best = { step: Math.round((from.step + to.step) / 2), rate };
  }
  return best;
}

/** The points of a loss curve (see the module comment). */
export function descentPoints(losses: readonly StepValue[], opts: SmoothingOptions): DescentPoints {
  const smoothed = movingAverage(losses, opts.window);
  if (smoothed.length === 0) return { steepest: null, steepestReason: 'no finite loss', lowest: null, finalLoss: null, smoothed };
  const steepest = bestRate(smoothed, opts.span);
  const lowest = smoothed.reduce((m, p) => (p.value < m.value ? p : m));
  const last = smoothed.at(-1)!.step;
  const tail = finitePoints(losses).filter((p) => p.step > last - opts.window);
  return {
    steepest,
    steepestReason: steepest ? null : `the run has fewer than ${opts.span} steps with a loss (the rate span)`,
    lowest: { step: lowest.step, loss: lowest.value },
    finalLoss: tail.reduce((s, p) => s + p.value, 0) / tail.length,
    smoothed,
  };
}

/** The median of the finite samples within ±⌊window/2⌋ steps of `step`, or null when there is none. */
export function valueNear(samples: readonly StepValue[], step: number, window: number): number | null {
  const h = Math.floor(window / 2);
  const near = samples.filter((s) => Math.abs(s.step - step) <= h && Number.isFinite(s.value)).map((s) => s.value).sort((a, b) => a - b);
  if (near.length === 0) return null;
  const m = near.length >> 1;
  return near.length % 2 ? near[m]! : (near[m - 1]! + near[m]!) / 2;
}
