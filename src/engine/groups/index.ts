/**
 * The sampler of every metric group sampled on a batch: the one table measureBatch reads. A new
 * group is its declaration in the metric registry (needs, cost), its sampler here, and its
 * metrics' pure functions.
 */
import type { SampledGroup, SampleOf } from '../../metrics/registry.js';
import { sampleMultiBatch } from './multiBatch.js';
import { sampleInputGradient, sampleInputPerturbation, samplePerExample } from './perExampleGroups.js';
import type { SharedWork } from './shared.js';
import { sampleUpdate } from './update.js';
import { sampleWeightPerturbation } from './weightPerturbation.js';

export type Sampler<G extends SampledGroup> = (work: SharedWork) => SampleOf[G];

export const SAMPLERS: { readonly [G in SampledGroup]: Sampler<G> } = {
  weightPerturbation: sampleWeightPerturbation,
  update: sampleUpdate,
  perExample: samplePerExample,
  inputGradient: sampleInputGradient,
  inputPerturbation: sampleInputPerturbation,
  multiBatch: sampleMultiBatch,
};
