/**
 * What every metric returns: a finite number, or `null` with the reason it is undefined
 * (docs/metrics.md). A metric never returns NaN or ±Infinity and never clamps a
 * number silently.
 */
export type MetricValue = Defined | Undefined;

export interface Defined {
  readonly value: number;
  readonly reason?: undefined;
}

export interface Undefined {
  readonly value: null;
  readonly reason: string;
}

/** `x` when it is finite; otherwise `null` with `reason` (default: 'result is not finite'). */
export function ok(x: number, reason = 'result is not finite'): MetricValue {
  return Number.isFinite(x) ? { value: x === 0 ? 0 : x } : { value: null, reason };
}

/** An undefined metric, with why. */
export function undef(reason: string): Undefined {
  return { value: null, reason };
}

export function isDefined(m: MetricValue): m is Defined {
  return m.value !== null;
}

/**
 * `num / den`, or `null` with `reason` when the denominator is zero; a denominator that is not
 * finite (a NaN or infinite gradient upstream) is 'non-finite gradient', whatever `reason` says,
 * and so is a quotient that is not finite.
 */
export function ratio(num: number, den: number, reason: string): MetricValue {
  if (!Number.isFinite(den)) return undef(NON_FINITE);
  if (den === 0) return undef(reason);
  return ok(num / den, NON_FINITE);
}

/** The reason for a metric of non-finite inputs. */
export const NON_FINITE = 'non-finite gradient';
