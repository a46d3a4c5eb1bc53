/**
 * The median over seeds of one policy's curves, with a min–max band. Seeds do not share their x
 * values (wall times always differ; examples differ when a policy changes the batch size), so
 * the curves are compared on a common grid: the sorted union of the seeds' x values (thinned to
 * at most `max` values, first and last kept, when longer). At a grid value a seed contributes
 * only if the value lies within its own first and last x: its y there, or the straight-line
 * interpolation between its two neighbouring points (at a repeated x, the last of them). Seeds
 * whose curves share their x values are thus compared point by point, with no interpolation.
 */
import { medianOf, thin, type Series } from './downsample.js';

/** One grid point of a policy's curve: the median, min and max over the `n` seeds covering x. */
export interface BandPoint {
  x: number;
  median: number;
  lo: number;
  hi: number;
  n: number;
}

/** The value of `s` at `x` (x within its range), by the rule of the module comment. */
export function valueAt(s: Series, x: number): number {
  let lo = 0;
  let hi = s.x.length - 1;
  while (lo < hi) {
    // the last index with s.x[i] ≤ x
    const mid = (lo + hi + 1) >> 1;
    if (s.x[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  const x0 = s.x[lo]!;
  if (x0 === x || lo === s.x.length - 1) return s.y[lo]!;
  const x1 = s.x[lo + 1]!;
  return s.y[lo]! + ((s.y[lo + 1]! - s.y[lo]!) * (x - x0)) / (x1 - x0);
}

/** Median, min and max over seeds on the common grid (see the module comment). */
export function aggregateSeeds(seeds: readonly Series[], max: number): BandPoint[] {
  const present = seeds.filter((s) => s.x.length > 0);
  if (present.length === 0) return [];
  const grid = thin([...new Set(present.flatMap((s) => s.x))].sort((a, b) => a - b), max);
  const out: BandPoint[] = [];
  for (const x of grid) {
    const ys = present.filter((s) => s.x[0]! <= x && x <= s.x.at(-1)!).map((s) => valueAt(s, x));
    if (ys.length === 0) continue;
    out.push({ x, median: medianOf(ys), lo: Math.min(...ys), hi: Math.max(...ys), n: ys.length });
  }
  return out;
}
