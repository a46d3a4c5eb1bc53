/**
 * Reading signals out of the stream: a metric value is used only when it is a finite number
 * (null values carry a reason and are never acted on).
 */
import type { MetricSample } from '../../src/stream/types.js';

/** `sample.values[name]` when it is a finite number, else null. */
export function valueOf(sample: MetricSample, name: string): number | null {
  const v = sample.values[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** `x` rounded for a reason string: 4 significant digits, exponents only for tiny or huge values. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

/** `v` clamped into [lo, hi]. */
export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * A rate scaled with the batch (linear scaling), capped at `maxLr` unless it is already above,
 * and the words for a reason: "lr 0.1 → 0.2" or "lr 0.8 → 1 (capped at maxLr 1)".
 */
export function scaleRate(lr: number, factor: number, maxLr: number): { lr: number; text: string } {
  const scaled = lr * factor;
  const next = Math.min(scaled, Math.max(maxLr, lr));
  return { lr: next, text: `lr ${fmt(lr)} → ${fmt(next)}${next < scaled ? ` (capped at maxLr ${maxLr})` : ''}` };
}
