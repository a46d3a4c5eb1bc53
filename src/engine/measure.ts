/**
 * Computes the metrics of the requested groups on one batch. The registry declares what each
 * group needs; the shared work (per-example pass, batch gradient, sub-batches) is computed at
 * most once, by the first group that asks, and every group's sampler then reads it. Returns
 * numbers (or null with a reason) and how long each group took (shared work charged to the
 * first group that used it); no tensor outlives the call.
 */
import type { tf } from '../backend/tf.js';
import { UnsupportedError } from '../errors.js';
import { GROUPS, type MetricName, type SampleGroup, type SampleOf, type SampledGroup, computeGroup, metricsOfGroup } from '../metrics/registry.js';
import type { MetricValue } from '../metrics/result.js';
import type { EngineContext } from './context.js';
import { SUBSET_SAMPLERS, type SubsetGroup, isSubsetGroup } from './groups/gramSubsets.js';
import { SAMPLERS } from './groups/index.js';
import { disjointSubsets, subsetMean } from './perExample.js';
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
  /** With `gramSubset` on a batch larger than its size: the sub-batches used, and each estimate's standard error. */
  gramSubset?: { size: number; parts: number; standardErrors: Partial<Record<MetricName, number | null>> };
}

/** Every metric of `group` as null with `reason`. */
export function nullGroup(group: SampleGroup, reason: string): MetricValues {
  return Object.fromEntries(metricsOfGroup(group).map((m) => [m.name, { value: null, reason }]));
}

/** One group's metrics on the shared work; null with the reason when the model cannot answer. */
function measureGroup<G extends SampledGroup>(group: G, work: SharedWork, out: Measurement): MetricValues {
  const subset = work.opts.gramSubset;
  try {
    if (subset && isSubsetGroup(group) && work.b > subset.size) return measureOnSubsets(group, work, out);
    return computeGroup(group, SAMPLERS[group](work));
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    return nullGroup(group, err.message);
  }
}

/** A Gram-based group on sub-batches: each metric's mean over them, its standard error in `out`. */
function measureOnSubsets<G extends SubsetGroup>(group: G, work: SharedWork, out: Measurement): MetricValues {
  const options = work.opts.gramSubset!;
  const subsets = disjointSubsets(work.b, options);
  const samples: SampleOf[G][] = SUBSET_SAMPLERS[group](work, subsets);
  const parts = samples.map((sample) => computeGroup(group, sample));
  const values: MetricValues = {};
  out.gramSubset ??= { size: options.size, parts: subsets.length, standardErrors: {} };
  for (const m of metricsOfGroup(group)) {
    const est = subsetMean(parts.map((p) => p[m.name]?.value ?? null));
    values[m.name] = est.mean === null ? { value: null, reason: parts[0]?.[m.name]?.reason ?? est.reason! } : { value: est.mean };
    out.gramSubset.standardErrors[m.name] = est.stdError;
  }
  return values;
}

export function measureBatch(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, groups: readonly SampleGroup[], opts: MeasureOptions): Measurement {
  const out: Measurement = { values: {}, durations: {} };
  const work = new SharedWork(ctx, x, y, opts, new Set(groups.flatMap((g) => GROUPS[g].requires)));
  try {
    for (const group of groups) {
      if (GROUPS[group].when === 'every-step') continue; // from consecutive optimizer steps, not from a batch
      const t0 = performance.now();
      Object.assign(out.values, measureGroup(group as SampledGroup, work, out));
      out.durations[group] = performance.now() - t0;
    }
    const pass = work.passTaken;
    if (pass) out.perExamplePath = { path: pass.path, ...(pass.reason ? { reason: pass.reason } : {}) };
  } finally {
    work.dispose();
  }
  return out;
}
