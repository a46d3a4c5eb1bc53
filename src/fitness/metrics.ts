/**
 * The gradient-conditioning metrics a fitness score reads, measured on a candidate at its
 * current weights by the probe's deterministic protocol: batch 0 for the single-batch metrics,
 * all scoring batches for confusion and diversity, no mask, η = 1e-3, `gradient` weight
 * directions. Each metric is a finite number or null with the reason; no tensor outlives a call.
 */
import type { tf } from '../backend/tf.js';
import { measureBatch } from '../engine/measure.js';
import type { PerExampleLoss } from '../engine/losses.js';
import { METRICS, type MetricName } from '../metrics/registry.js';
import { type MetricValue, undef } from '../metrics/result.js';
import type { ScoringBatch } from './batches.js';
import { calibrateBatchNorm } from './calibrate.js';

/**
 * What a score may read: the batch-dissonance metrics the thesis linked to trainability
 * (`rankX`, `confusion`, `diversity`), their weight-space and per-example relatives, and
 * `kappaW`. `kappaX` is left out by default: it costs about twelve training steps.
 */
export const FITNESS_METRICS = ['rankX', 'confusion', 'diversity', 'rankW', 'coherence', 'kappaW', 'kappaX'] as const satisfies readonly MetricName[];
export type FitnessMetric = (typeof FITNESS_METRICS)[number];

export type FitnessMetrics = Partial<Record<FitnessMetric, MetricValue>>;

export interface MeasureFitnessOptions {
  loss: PerExampleLoss;
  /** The metrics to measure (their groups are computed once each). */
  metrics: readonly FitnessMetric[];
  /** kappaX and weight directions: the first min(b, n) examples (default 4). */
  n?: number;
}

/**
 * Measures `opts.metrics` of `model` on `batches` (at least two). Batch normalisation's moving
 * statistics are calibrated on the batches for the measurement and restored afterwards, so the
 * model is left as it was.
 */
export function measureFitnessMetrics(model: tf.LayersModel, batches: readonly ScoringBatch[], opts: MeasureFitnessOptions): FitnessMetrics {
  const [first, ...others] = batches;
  if (!first || others.length === 0) return Object.fromEntries(opts.metrics.map((m) => [m, undef('needs at least 2 scoring batches')]));
  const groups = [...new Set(opts.metrics.map((m) => METRICS[m].group))];
  const n = opts.n ?? 4;
  const restore = calibrateBatchNorm(model, batches);
  try {
    const m = measureBatch({ model, loss: opts.loss, mask: null, eta: 1e-3 }, first.x, first.y, groups, {
      weightSampling: { sampling: 'gradient', n, seed: 0 },
      inputDirections: n,
      otherBatches: others,
    });
    return Object.fromEntries(opts.metrics.map((name) => [name, m.values[name] ?? undef(`${name} was not measured`)]));
  } finally {
    restore();
  }
}
