/**
 * What every metric returns: a finite number, or `null` with the reason it is undefined
 * (METRICS.md, "Conventions"). A metric never returns NaN or ±Infinity and never clamps a
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
 * `num / den`, or `null` with `reason` when the denominator is zero or not finite (or when the
 * quotient is not finite, e.g. a NaN numerator).
 */
export function ratio(num: number, den: number, reason: string): MetricValue {
  if (!Number.isFinite(den) || den === 0) return undef(reason);
  return ok(num / den, Number.isFinite(num) ? reason : 'numerator is not finite');
}
