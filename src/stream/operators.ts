/**
 * Small RxJS operators for metric streams. Each is a factory that validates its options at
 * once (RangeError) and returns a `pipe()` of existing operators; per-subscription state lives
 * in `scan`, so one operator instance can be shared by many subscriptions.
 *
 * Numeric operators (`ema`, `rollingMean`) accept either plain numbers or points
 * (`{step, value}`, as produced by `metric(name)`), and return the same shape: for points only
 * `value` changes, so steps stay aligned. They ignore non-finite inputs (no output for them):
 * one NaN must not poison a smoothed series forever.
 *
 *     samples$.pipe(metric('kappaW'), ema(0.1), every(10))
 */
import {
  distinctUntilChanged,
  filter,
  map,
  pipe,
  scan,
  type MonoTypeOperatorFunction,
  type OperatorFunction,
} from 'rxjs';
import type { MetricSample, Point, StepEvent } from './types.js';

/** What the numeric operators accept: a number, or an object with a numeric `value`. */
export type Scalar = number | { value: number };

function valueOf(x: Scalar): number {
  return typeof x === 'number' ? x : x.value;
}

function withValue<T extends Scalar>(x: T, value: number): T {
  return (typeof x === 'number' ? value : { ...(x as { value: number }), value }) as T;
}

function finiteOnly<T extends Scalar>(): MonoTypeOperatorFunction<T> {
  return filter((x: T) => Number.isFinite(valueOf(x)));
}

function requireInteger(name: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${n}`);
  }
}

/**
 * One metric's series, from metric samples (looked up in `values`) or from step events (a
 * numeric field such as 'loss' or 'gradNorm'). Events without the metric, or where it is null
 * or not finite, are skipped.
 */
export function metric(name: string): OperatorFunction<MetricSample | StepEvent, Point> {
  return pipe(
    map((e: MetricSample | StepEvent): Point | null => {
      const raw: unknown =
        'values' in e && typeof e.values === 'object' && e.values !== null
          ? e.values[name]
          : (e as unknown as Record<string, unknown>)[name];
      return typeof raw === 'number' && Number.isFinite(raw) ? { step: e.step, value: raw } : null;
    }),
    filter((p): p is Point => p !== null),
  );
}

/**
 * Exponential moving average with bias correction (as Adam's moments): with
 * `m_t = (1−α)·m_{t−1} + α·x_t`, `m_0 = 0`, it emits `m_t / (1 − (1−α)^t)`, so the first output
 * equals the first input instead of being pulled towards 0. `alpha` ∈ (0, 1] is the weight of
 * the newest value (1: no smoothing). One output per finite input.
 */
export function ema<T extends Scalar>(alpha: number): MonoTypeOperatorFunction<T> {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`ema alpha must be in (0, 1], got ${alpha}`);
  interface State {
    /** Bias-corrected average so far: m_t / (1 − (1−α)^t). */
    avg: number;
    /** Total weight 1 − (1−α)^t. */
    weight: number;
    out: T | null;
  }
  return pipe(
    finiteOnly<T>(),
    scan(
      (s: State, x: T): State => {
        // avg_t = avg_{t−1} + α·(x_t − avg_{t−1}) / weight_t, the same as m_t / weight_t, but
        // exact where it should be: the first output is x_1, a constant input stays constant.
        const weight = (1 - alpha) * s.weight + alpha;
        const avg = s.avg + (alpha / weight) * (valueOf(x) - s.avg);
        return { avg, weight, out: withValue(x, avg) };
      },
      { avg: 0, weight: 0, out: null },
    ),
    map((s) => s.out as T),
  );
}

/**
 * Sliding windows of the last `n` values (oldest first), one per input. By default the first
 * window is emitted once `n` values have arrived; with `partial: true` the windows grow from
 * length 1. Each emitted array is a fresh copy: consumers may keep it.
 */
export function window<T>(n: number, opts: { partial?: boolean } = {}): OperatorFunction<T, T[]> {
  requireInteger('window size', n, 1);
  const partial = opts.partial ?? false;
  return pipe(
    scan((win: T[], x: T): T[] => {
      const kept = win.length >= n ? win.slice(win.length - n + 1) : win;
      return [...kept, x];
    }, []),
    filter((win) => partial || win.length === n),
  );
}

/** Alias of `window`, for code that also imports rxjs's own `window` operator. */
export const slidingWindow = window;

/**
 * Mean of the last `n` finite values, one output per finite input (from the first: the first
 * n−1 outputs average what has arrived so far). Points keep their own step.
 */
export function rollingMean<T extends Scalar>(n: number): MonoTypeOperatorFunction<T> {
  requireInteger('rollingMean size', n, 1);
  return pipe(
    finiteOnly<T>(),
    window<T>(n, { partial: true }),
    map((win) => {
      let sum = 0;
      for (const x of win) sum += valueOf(x);
      return withValue(win[win.length - 1]!, sum / win.length);
    }),
  );
}

/**
 * Keeps the events whose step is a multiple of `k` (steps 0, k, 2k, …), e.g. to thin a
 * stream for a live view. Events are not counted: a stream with gaps keeps only aligned steps.
 */
export function every<T extends { step: number }>(k: number): MonoTypeOperatorFunction<T> {
  requireInteger('every k', k, 1);
  return filter((e: T) => e.step % k === 0);
}

/**
 * Keeps the first event and each event whose selected key differs from the previous event's
 * (`Object.is`), e.g. `steps$.pipe(changes((e) => e.learningRate))` for the moments a policy
 * changed the learning rate.
 */
export function changes<T, K>(select: (e: T) => K): MonoTypeOperatorFunction<T> {
  return distinctUntilChanged((a: K, b: K) => Object.is(a, b), select);
}
