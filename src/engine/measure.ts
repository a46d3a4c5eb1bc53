/**
 * Computes the metrics of the requested groups on one batch. The registry declares what each
 * group needs; the shared work (per-example pass, batch gradient, sub-batches) is computed at
 * most once, by the first group that asks, and every group's sampler then reads it. Returns
 * numbers (or null with a reason) and how long each group took (shared work charged to the
 * first group that used it); no tensor outlives the call.
 */
import type { tf } from '../backend/tf.js';
import { UnsupportedError } from '../errors.js';
import { GROUPS, type MetricName, type SampleGroup, type SampledGroup, computeGroup, metricsOfGroup } from '../metrics/registry.js';
import type { MetricValue } from '../metrics/result.js';
import type { EngineContext } from './context.js';
import { SAMPLERS } from './groups/index.js';
import { type MeasureOptions, SharedWork } from './groups/shared.js';

export type { EngineContext, WeightSampling, WeightSamplingOptions } from './context.js';
export type { MeasureOptions, StepContext } from './groups/shared.js';

export type MetricValues = Partial<Record<MetricName, MetricValue>>;

export interface Measurement {
  values: MetricValues;
  /** Milliseconds per group. */
  durations: Partial<Record<SampleGroup, number>>;
  /** Which per-example path the engine took, when one was needed. */
  perExamplePath?: { path: 'batched' | 'loop'; reason?: string };
}

/** Every metric of `group` as null with `reason`. */
export function nullGroup(group: SampleGroup, reason: string): MetricValues {
  return Object.fromEntries(metricsOfGroup(group).map((m) => [m.name, { value: null, reason }]));
}

/** One group's metrics on the shared work; null with the reason when the model cannot answer. */
function measureGroup<G extends SampledGroup>(group: G, work: SharedWork): MetricValues {
  let sample;
  try {
    sample = SAMPLERS[group](work);
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    return nullGroup(group, err.message);
  }
  return computeGroup(group, sample);
}

export function measureBatch(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, groups: readonly SampleGroup[], opts: MeasureOptions): Measurement {
  const out: Measurement = { values: {}, durations: {} };
  const work = new SharedWork(ctx, x, y, opts);
  try {
    for (const group of groups) {
      if (GROUPS[group].when === 'every-step') continue; // from consecutive optimizer steps, not from a batch
      const t0 = performance.now();
      Object.assign(out.values, measureGroup(group as SampledGroup, work));
      out.durations[group] = performance.now() - t0;
    }
    const pass = work.passTaken;
    if (pass) out.perExamplePath = { path: pass.path, ...(pass.reason ? { reason: pass.reason } : {}) };
  } finally {
    work.dispose();
  }
  return out;
}
