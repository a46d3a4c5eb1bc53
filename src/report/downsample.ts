/**
 * Fewer points for long traces, by stated rules, so that a 100k-step run still gives a report
 * of a few MB. Every rule keeps the first and the last point exactly.
 *
 * - `binMedians` (curves): a series of n > max points keeps its first and last point; the n − 2
 *   points between go, in trace order, into consecutive bins of k = ⌈(n − 2)/(max − 2)⌉ points
 *   (the last bin may hold fewer), and each bin becomes one point: the median of its x and the
 *   median of its y. At most `max` points come out; n ≤ max points come out unchanged.
 * - `changePoints` (knobs: learning rate, batch size): a piecewise-constant series keeps its
 *   first point, every point whose value differs from the one before, and its last point — a
 *   lossless description for a step-after line. When that is still more than `max` points (a
 *   policy that changes the knob every step), `binMedians` applies instead.
 * - `thin` (decisions, grids): more than `max` items keep `max` of them at evenly spaced
 *   indices round(i·(n − 1)/(max − 1)), first and last included.
 */

/** Points of one series, in trace order: x[i] with y[i]. */
export interface Series {
  x: number[];
  y: number[];
}

/** Median of a non-empty list: the middle value, or the mean of the middle two. */
export function medianOf(values: readonly number[]): number {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The bin size `binMedians` uses for n points and at most `max` out. */
export function binSize(n: number, max: number): number {
  return n <= max ? 1 : Math.ceil((n - 2) / (max - 2));
}

/** Series of at most `max` points (max ≥ 3) by the bin rule of the module comment. */
export function binMedians(s: Series, max: number): Series {
  const n = s.x.length;
  if (n <= max) return s;
  const k = binSize(n, max);
  const out: Series = { x: [s.x[0]!], y: [s.y[0]!] };
  for (let start = 1; start < n - 1; start += k) {
    const end = Math.min(start + k, n - 1);
    out.x.push(medianOf(s.x.slice(start, end)));
    out.y.push(medianOf(s.y.slice(start, end)));
  }
  out.x.push(s.x[n - 1]!);
  out.y.push(s.y[n - 1]!);
  return out;
}

/** A piecewise-constant series by the change-point rule of the module comment. */
export function changePoints(s: Series, max: number): Series {
  const n = s.x.length;
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (i === 0 || i === n - 1 || s.y[i] !== s.y[i - 1]) keep.push(i);
  if (keep.length > max) return binMedians(s, max);
  return { x: keep.map((i) => s.x[i]!), y: keep.map((i) => s.y[i]!) };
}

/** At most `max` of `items` (max ≥ 2) at evenly spaced indices, first and last included. */
export function thin<T>(items: readonly T[], max: number): T[] {
  const n = items.length;
  if (n <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.round((i * (n - 1)) / (max - 1))]!);
}
