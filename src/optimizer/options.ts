/**
 * The conditioned optimizer's options, validated when `conditioned()` is called (not at the
 * first step): every bad value is a UsageError with the same message the CLI gives.
 */
import { z } from 'zod';
import type { tf } from '../backend/tf.js';
import { WEIGHT_SAMPLINGS, type WeightSampling } from '../engine/context.js';
import { LOSS_NAMES } from '../engine/losses.js';
import { UsageError } from '../errors.js';
import { SAMPLED_GROUPS, type SampledGroup } from '../metrics/registry.js';
import {
  fraction,
  integer,
  nonNegativeInt,
  oneOf,
  openFraction,
  optionLabel,
  parseOptions,
  positiveInt,
  positiveNumber,
  show,
} from '../validation.js';

/** Presets, cheapest first (after Cockpit's economy ⊂ business ⊂ full). */
export const PRESETS = {
  none: [] as SampledGroup[],
  economy: ['update', 'perExample'] as SampledGroup[],
  business: ['update', 'weightPerturbation', 'perExample', 'inputGradient', 'multiBatch'] as SampledGroup[],
  full: [...SAMPLED_GROUPS],
};
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A policy by registry name ('a+b' composes) or by name with its options. */
export type PolicyChoice = string | { name: string; options?: unknown };

export interface ConditionedOptions {
  /** The model being trained: needed to see the batch for the sampled groups. */
  model?: tf.LayersModel;
  /** Per-example loss name; defaults to the model's compiled loss when that is a name. */
  loss?: string;
  /** Sampled groups, or a preset name (default 'full'). */
  groups?: PresetName | SampledGroup[];
  /** Sample every k steps (one k for all groups, or per group). Exclusive with `budget`. */
  every?: number | Partial<Record<SampledGroup, number>>;
  /** Overhead budget: metrics may take at most this fraction of wall time (default 0.05). */
  budget?: number;
  /** Perturbation scale η (default 1e-3). */
  eta?: number;
  /** Mask fraction p (default 1 = no mask), seeded by `seed`. */
  mask?: number;
  seed?: number;
  /** Weight directions (default 'descent': step-scale directions along per-example gradients). */
  weightSampling?: WeightSampling;
  /** n for per-example / descent / random weight directions (default 2). */
  weightSamples?: number;
  /** kappaX: directions from the first min(b, n) examples (default 4). */
  inputDirections?: number;
  /** confusion/diversity: the batch is split into this many sub-batches (default 4). */
  subBatches?: number;
  /** The first step's number (a resumed run continues its count, cadence and seeds). */
  startStep?: number;
  /** A policy that steers the learning rate (and, with `dynamicBatches`, the batch size). */
  policy?: PolicyChoice;
  /**
   * Measure the per-step numbers (‖h̄‖, ‖θ‖, ‖Δ‖, kappaWStep, the hypergradient dots, and the
   * finiteness checks of gradient and update) on every step (1, the default) or on the pair of
   * steps k−1, k of every k, and on steps that sample a group needing them: the other steps
   * read the loss only. On a small model the numbers cost about a quarter of a step; with k > 1
   * a non-finite gradient or update is caught at the next measured step, not at once.
   */
  stepMetrics?: number;
}

const modelSchema = z.custom<tf.LayersModel>(
  (v) => typeof v === 'object' && v !== null && 'trainableWeights' in v && 'layers' in v,
  { error: (i) => `model must be a tf.LayersModel, got ${show(typeof i.input === 'object' ? Object.prototype.toString.call(i.input) : i.input)}` },
);

const groupName = oneOf('groups', SAMPLED_GROUPS);
const groupsSchema = z.union([oneOf('groups', PRESET_NAMES), z.array(groupName)], {
  error: (i) => `groups must be a preset (${PRESET_NAMES.join(', ')}) or a list of groups (${SAMPLED_GROUPS.join(', ')}), got ${show(i.input)}`,
});

const everySchema = z.union([positiveInt('every'), z.record(groupName, positiveInt('every'))], {
  error: (i) => `every must be a positive integer or {group: positive integer} (groups: ${SAMPLED_GROUPS.join(', ')}), got ${show(i.input)}`,
});

const policySchema = z.union([z.string(), z.object({ name: z.string(), options: z.unknown().optional() }).strict()], {
  error: (i) => `policy must be a policy name or {name, options}, got ${show(i.input)}`,
});

export const ConditionedOptionsSchema = z
  .object({
    model: modelSchema.optional(),
    loss: oneOf('loss', LOSS_NAMES).optional(),
    groups: groupsSchema.optional(),
    every: everySchema.optional(),
    budget: openFraction('budget').optional(),
    eta: positiveNumber('eta').optional(),
    mask: fraction('mask').optional(),
    seed: integer('seed').optional(),
    weightSampling: oneOf('weightSampling', WEIGHT_SAMPLINGS).optional(),
    weightSamples: positiveInt('weightSamples').optional(),
    inputDirections: positiveInt('inputDirections').optional(),
    subBatches: z.custom<number>((v) => Number.isInteger(v) && (v as number) >= 2, {
      error: (i) => `${optionLabel('subBatches')} must be an integer ≥ 2, got ${show(i.input)}`,
    }).optional(),
    startStep: nonNegativeInt('startStep').optional(),
    policy: policySchema.optional(),
    stepMetrics: positiveInt('stepMetrics').optional(),
  })
  .strict();

const KNOWN = Object.keys(ConditionedOptionsSchema.shape);

/** Checks `raw` (a user's options object): the options, or a UsageError naming the bad one. */
export function validateConditionedOptions(raw: unknown): ConditionedOptions {
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new UsageError(`conditioned() options must be an object, got ${show(raw)}`);
  }
  const opts = parseOptions(ConditionedOptionsSchema, raw, 'conditioned()', KNOWN) as ConditionedOptions;
  if (opts.budget !== undefined && opts.every !== undefined) throw new UsageError('give budget or every, not both');
  return opts;
}

/** The groups of a preset or list. */
export function groupsOf(groups: ConditionedOptions['groups']): SampledGroup[] {
  if (groups === undefined) return PRESETS.full;
  return typeof groups === 'string' ? PRESETS[groups] : [...new Set(groups)];
}
