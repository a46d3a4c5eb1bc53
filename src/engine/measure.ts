/**
 * Computes the metrics of the requested groups on one batch: each group's sample once, the
 * per-example pass once for every group that needs it, then the pure metric functions. Returns
 * numbers (or null with a reason) and how long each group took; no tensor outlives the call.
 */
import { tf } from '../backend/tf.js';
import { UnsupportedError } from '../errors.js';
import { type MetricName, type SampleGroup, computeGroup, metricsOfGroup } from '../metrics/registry.js';
import type { MetricValue } from '../metrics/result.js';
import { parameterCount } from './params.js';
import { type PerExamplePass, disposePass, perExamplePass } from './perExample.js';
import {
  type EngineContext,
  type WeightSamplingOptions,
  inputGradientSample,
  inputPerturbationSample,
  multiBatchSample,
  perExampleSample,
  weightPerturbationSample,
} from './samples.js';

export type MetricValues = Partial<Record<MetricName, MetricValue>>;

export interface MeasureOptions {
  weightSampling: WeightSamplingOptions;
  /** kappaX uses the first min(b, n) examples' input-gradient directions, both signs. */
  inputDirections: number;
  /** Other batches for the multiBatch group (the measured batch is the first). */
  otherBatches?: { x: tf.Tensor; y: tf.Tensor }[];
}

export interface Measurement {
  values: MetricValues;
  /** Milliseconds per group. */
  durations: Partial<Record<SampleGroup, number>>;
  /** Which per-example path the engine took, when one was needed. */
  perExamplePath?: { path: 'batched' | 'loop'; reason?: string };
}

/** Groups that read the per-example pass of the batch. */
const NEEDS_PASS: readonly SampleGroup[] = ['perExample', 'inputGradient', 'inputPerturbation'];

function allNull(group: SampleGroup, reason: string): MetricValues {
  return Object.fromEntries(metricsOfGroup(group).map((m) => [m.name, { value: null, reason }]));
}

export function measureBatch(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, groups: readonly SampleGroup[], opts: MeasureOptions): Measurement {
  const out: Measurement = { values: {}, durations: {} };
  let pass: PerExamplePass | null = null;
  let passError: string | null = null;
  let passMs = 0;
  if (groups.some((g) => NEEDS_PASS.includes(g))) {
    const t0 = performance.now();
    try {
      pass = perExamplePass(ctx.model, ctx.loss, x, y, { training: ctx.training });
      out.perExamplePath = { path: pass.path, ...(pass.reason ? { reason: pass.reason } : {}) };
    } catch (err) {
      if (!(err instanceof UnsupportedError)) throw err;
      passError = err.message;
    }
    passMs = performance.now() - t0;
  }
  try {
    for (const group of groups) {
      const t0 = performance.now();
      let values: MetricValues;
      switch (group) {
        case 'step':
          continue; // from consecutive optimizer steps, not from a batch
        case 'weightPerturbation':
          values = computeGroup(group, weightPerturbationSample(ctx, x, y, opts.weightSampling));
          break;
        case 'multiBatch':
          values = computeGroup(group, multiBatchSample(ctx, [{ x, y }, ...(opts.otherBatches ?? [])]));
          break;
        case 'perExample':
          values = pass ? computeGroup(group, perExampleSample(pass, ctx.mask, parameterCount(ctx.model))) : allNull(group, passError!);
          break;
        case 'inputGradient':
          values = pass ? computeGroup(group, inputGradientSample(pass)) : allNull(group, passError!);
          break;
        case 'inputPerturbation':
          values = pass ? computeGroup(group, inputPerturbationSample(ctx, pass, x, y, opts.inputDirections)) : allNull(group, passError!);
          break;
      }
      Object.assign(out.values, values);
      // The shared pass is charged to the first group that used it.
      const shared = NEEDS_PASS.includes(group) && passMs > 0 ? passMs : 0;
      if (shared) passMs = 0;
      out.durations[group] = performance.now() - t0 + shared;
    }
  } finally {
    if (pass) disposePass(pass);
  }
  return out;
}
