/**
 * The metric registry: for every metric, what sample it needs, what that sample costs, and the
 * pure function that turns the sample into a number. Metrics in one group share one sample, so
 * the engine computes the union of the groups the active metrics need, once per step.
 *
 * A new metric = one pure function (in its family's file) + one line in `METRICS` below.
 */
import {
  coherence,
  confusion,
  diversity,
  kappaX,
  rankW,
  rankX,
  stableRankW,
  stableRankX,
  type InputGradientSamples,
  type KappaXSamples,
  type MultiBatchSamples,
  type PerExampleSamples,
} from './batchDissonance.js';
import { gradSqEstimate, noiseScale, traceSigma } from './noiseScale.js';
import { cosSimWUpdate, descentRatio, kappaWUpdate, localSmoothness, type UpdateSamples } from './stepConsistencyUpdate.js';
import type { MetricValue } from './result.js';
import {
  coherenceW,
  cosSimW,
  diversityW,
  kappaW,
  kappaWStep,
  type StepSamples,
  type WeightSamples,
} from './stepConsistency.js';

export type MetricFamily = 'step-consistency' | 'batch-dissonance' | 'noise-scale';

export const SAMPLE_GROUPS = [
  'step',
  'weightPerturbation',
  'update',
  'perExample',
  'inputPerturbation',
  'inputGradient',
  'multiBatch',
] as const;
/** Which shared sample a metric needs; metrics in a group share one sample. */
export type SampleGroup = (typeof SAMPLE_GROUPS)[number];
/** Groups sampled on a batch (all but `step`, which every optimizer step provides for free). */
export type SampledGroup = Exclude<SampleGroup, 'step'>;
export const SAMPLED_GROUPS = SAMPLE_GROUPS.filter((g): g is SampledGroup => g !== 'step');

/** The sample each group hands to its metrics. */
export interface SampleOf {
  step: StepSamples;
  weightPerturbation: WeightSamples;
  update: UpdateSamples;
  perExample: PerExampleSamples;
  inputPerturbation: KappaXSamples;
  inputGradient: InputGradientSamples;
  multiBatch: MultiBatchSamples;
}

/**
 * Work a group needs. The first five are shared: the engine computes each at most once per
 * batch, whichever groups ask for it. The others are the group's own.
 */
export type Requirement =
  | 'perExamplePass' // shared: one batched pass giving every h_i
  | 'inputGradients' // shared: the same pass also gives every g_i (one more backward product)
  | 'inputGradientGram' // shared: ⟨g_i, g_j⟩, from the g_i or, where the model allows, from δ and W
  | 'batchGradient' // shared: h̄ and the loss at the current weights on the batch
  | 'subBatches' // shared: the batch split into sub-batches (or the other batches given)
  | 'previousStep' // the optimizer's step: h̄_t, L_t, Δ_t (only the conditioned optimizer has it)
  | 'perturbedGradients' // own: h̄ at perturbed weights
  | 'perturbedPerExamplePasses'; // own: per-example passes at perturbed inputs

/** A group's declaration: what it needs, what it costs, how often it can run. */
export interface GroupSpec {
  readonly description: string;
  /** `every-step`: from consecutive optimizer steps, free; `sampled`: on a batch, when scheduled. */
  readonly when: 'every-step' | 'sampled';
  readonly requires: readonly Requirement[];
  /** Extra passes on top of the training step's own forward + backward pass. */
  readonly extraPasses: { readonly forward: number | string; readonly backward: number | string };
  readonly memory: string;
  /** Expected cost in training steps before the first measurement (the budget's prior). */
  readonly priorSteps: number;
}

/** Kept for callers of the old name: a group's cost fields. */
export type GroupCost = Pick<GroupSpec, 'requires' | 'extraPasses' | 'memory'>;

export const GROUPS: Readonly<Record<SampleGroup, GroupSpec>> = {
  step: {
    description: 'free numbers from consecutive optimizer steps',
    when: 'every-step',
    requires: ['previousStep'],
    extraPasses: { forward: 0, backward: 0 },
    memory: "O(P): the previous step's batch gradient and update",
    priorSteps: 0,
  },
  weightPerturbation: {
    description: 'batch gradients at K perturbed weights, same batch',
    when: 'sampled',
    requires: ['batchGradient', 'perturbedGradients'],
    extraPasses: { forward: '1 + K (K = 2 with gradient sampling)', backward: '1 + K' },
    memory: 'O(K·P) perturbed gradients, O(K²) Gram',
    priorSteps: 2,
  },
  update: {
    description: 'batch gradient and loss after the update, on the step\'s own batch',
    when: 'sampled',
    requires: ['batchGradient', 'previousStep'],
    extraPasses: { forward: '1 (2 for models whose training-mode forward differs: dropout, batch norm, regularisers)', backward: '1 (2)' },
    memory: 'O(P): three parameter-space vectors on the host',
    priorSteps: 1.2,
  },
  perExample: {
    description: 'Gram matrix of the per-example weight gradients',
    when: 'sampled',
    requires: ['perExamplePass'],
    extraPasses: { forward: 1, backward: '1 (batched per-example, per-layer activations kept)' },
    memory: 'O(b²) Gram + per-layer activations',
    priorSteps: 1.5,
  },
  inputGradient: {
    description: 'Gram matrix of the per-example input gradients',
    when: 'sampled',
    requires: ['perExamplePass', 'inputGradientGram'],
    extraPasses: { forward: 1, backward: 1 },
    memory: 'O(b·D) input gradients, O(b²) Gram',
    priorSteps: 1,
  },
  inputPerturbation: {
    description: 'per-example gradients at inputs moved along input-gradient directions',
    when: 'sampled',
    requires: ['perExamplePass', 'inputGradients', 'perturbedPerExamplePasses'],
    extraPasses: {
      forward: '2n batched (n = min(b, 4) directions, both signs) + 1',
      backward: '2n batched per-example + 1',
    },
    memory: 'O(b·D) inputs and directions + per-layer activations, O(n·b) norms',
    priorSteps: 12,
  },
  multiBatch: {
    description: 'Gram matrix of the batch gradients of n sub-batches',
    when: 'sampled',
    requires: ['subBatches'],
    extraPasses: { forward: 'n (n sub-batches)', backward: 'n' },
    memory: 'O(n·P) batch gradients',
    priorSteps: 1,
  },
};

export const METRIC_NAMES = [
  'kappaW',
  'cosSimW',
  'diversityW',
  'coherenceW',
  'kappaWStep',
  'kappaWUpdate',
  'cosSimWUpdate',
  'descentRatio',
  'localSmoothness',
  'kappaX',
  'stableRankX',
  'rankX',
  'stableRankW',
  'rankW',
  'confusion',
  'diversity',
  'coherence',
  'noiseScale',
  'traceSigma',
  'gradSqEstimate',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface MetricSpec<G extends SampleGroup = SampleGroup> extends GroupCost {
  readonly name: MetricName;
  readonly family: MetricFamily;
  readonly group: G;
  readonly description: string;
  /** Where it comes from: thesis section / equation, or the paper. */
  readonly thesis: string;
  readonly compute: (sample: SampleOf[G]) => MetricValue;
}

/** Any metric, with `group` and `compute` kept in step (a union over the groups). */
export type AnyMetricSpec = { [G in SampleGroup]: MetricSpec<G> }[SampleGroup];

type Line<G extends SampleGroup> = Omit<MetricSpec<G>, keyof GroupCost | 'name'>;

/** One registry line: the metric's own fields; the cost fields come from its group. */
function line<G extends SampleGroup>(l: Line<G>): (name: MetricName) => MetricSpec<G> {
  const { requires, extraPasses, memory } = GROUPS[l.group];
  return (name) => ({ name, requires, extraPasses, memory, ...l });
}

const SC = 'step-consistency';
const BD = 'batch-dissonance';

/** One line per metric. */
const LINES: { readonly [N in MetricName]: (name: N) => AnyMetricSpec } = {
  kappaW: line({ family: SC, group: 'weightPerturbation', compute: kappaW, thesis: 'Def. 2.5 (i = j)',
    description: 'max_k ‖h̄_k − h̄₀‖·‖θ‖ / (‖ω_k‖·‖h̄₀‖): condition number of the gradient w.r.t. the weights' }),
  cosSimW: line({ family: SC, group: 'weightPerturbation', compute: cosSimW, thesis: 'eq. 4.1',
    description: 'min_k cos(h̄_k, h̄₀): worst alignment of perturbed and unperturbed gradients' }),
  diversityW: line({ family: SC, group: 'weightPerturbation', compute: diversityW, thesis: 'eq. 4.2',
    description: 'Σ_k ‖h̄_k‖² / ‖Σ_k h̄_k‖² over the perturbed gradients' }),
  coherenceW: line({ family: SC, group: 'weightPerturbation', compute: coherenceW, thesis: 'eq. 4.3',
    description: 'Σ_k ⟨h̄₀, h̄_k⟩ / Σ_k ‖h̄_k‖²' }),
  kappaWStep: line({ family: SC, group: 'step', compute: kappaWStep, thesis: 'section 2.2 (n = 1, i ≠ j)',
    description: '‖h̄_{t+1} − h̄_t‖·‖θ_t‖ / (‖θ_{t+1} − θ_t‖·‖h̄_t‖) from two consecutive steps' }),
  kappaWUpdate: line({ family: SC, group: 'update', compute: kappaWUpdate, thesis: 'Def. 2.5 with ω = Δ (same batch)',
    description: '‖h̄⁺ − h̄‖·‖θ_t‖ / (‖Δ‖·‖h̄‖) along the update actually taken, on the step\'s own batch' }),
  cosSimWUpdate: line({ family: SC, group: 'update', compute: cosSimWUpdate, thesis: 'eq. 4.1 with ω = Δ (same batch)',
    description: 'cos(h̄⁺, h̄): how far the gradient of the step\'s batch turned over the update' }),
  descentRatio: line({ family: SC, group: 'update', compute: descentRatio, thesis: 'trust-region ratio (beyond the thesis)',
    description: '(L − L⁺) / (−⟨h̄, Δ⟩): actual over first-order predicted decrease of the batch loss' }),
  localSmoothness: line({ family: SC, group: 'update', compute: localSmoothness, thesis: 'Malitsky & Mishchenko 2020',
    description: '‖h̄⁺ − h̄‖ / ‖Δ‖: local Lipschitz constant of the gradient along the update' }),
  kappaX: line({ family: BD, group: 'inputPerturbation', compute: kappaX, thesis: 'eq. 3.16 with Def. 3.5',
    description: 'mean_i max_k ‖h_i(x_i+δ_k) − h_i(x_i)‖·‖x_i‖ / (‖δ_k‖·‖h_i(x_i)‖): conditioning w.r.t. the inputs' }),
  stableRankX: line({ family: BD, group: 'inputGradient', compute: stableRankX, thesis: 'eq. 3.18',
    description: '‖A‖_F² / ‖A‖₂² with the input gradients g_i as columns' }),
  rankX: line({ family: BD, group: 'inputGradient', compute: rankX, thesis: 'eq. 3.20 (h = h_X)',
    description: 'stableRankX / E[R(Y)], Y Gaussian of the same shape' }),
  stableRankW: line({ family: BD, group: 'perExample', compute: stableRankW, thesis: 'eq. 3.20 (h = h_W)',
    description: '‖A‖_F² / ‖A‖₂² with the per-example weight gradients h_i as columns' }),
  rankW: line({ family: BD, group: 'perExample', compute: rankW, thesis: 'eq. 3.20 (h = h_W)',
    description: 'stableRankW / E[R(Y)], Y Gaussian of the same shape' }),
  confusion: line({ family: BD, group: 'multiBatch', compute: confusion, thesis: 'eq. 3.24',
    description: '−min(min_{i<j} cos(h̄_i, h̄_j), 0) over n ≥ 2 batches' }),
  diversity: line({ family: BD, group: 'multiBatch', compute: diversity, thesis: 'eq. 3.25',
    description: 'Σ_i ‖h̄_i‖² / ‖Σ_i h̄_i‖² over n ≥ 2 batches' }),
  coherence: line({ family: BD, group: 'perExample', compute: coherence, thesis: 'eq. 3.26',
    description: 'Σ_i ⟨h̄, h_i⟩ / Σ_i ‖h_i‖² over the examples of one batch' }),
  noiseScale: line({ family: 'noise-scale', group: 'perExample', compute: noiseScale,
    thesis: 'McCandlish et al. 2018 (simple noise scale)',
    description: 'tr(Σ) / ‖G‖² from per-example gradients; null when noise dominates' }),
  traceSigma: line({ family: 'noise-scale', group: 'perExample', compute: traceSigma,
    thesis: 'McCandlish et al. 2018 (numerator of the noise scale)',
    description: 'tr(Σ) ≈ Σ_i ‖h_i − h̄‖² / (b − 1): per-example gradient variance' }),
  gradSqEstimate: line({ family: 'noise-scale', group: 'perExample', compute: gradSqEstimate,
    thesis: 'McCandlish et al. 2018 (denominator of the noise scale)',
    description: '‖G‖² ≈ ‖h̄‖² − tr(Σ)/b: unbiased squared norm of the true gradient (may be ≤ 0)' }),
};

/** The registry, keyed by name. */
export const METRICS: { readonly [N in MetricName]: AnyMetricSpec } = Object.fromEntries(
  METRIC_NAMES.map((name) => [name, (LINES[name] as (n: MetricName) => AnyMetricSpec)(name)]),
) as { readonly [N in MetricName]: AnyMetricSpec };

export const metricNames: readonly MetricName[] = METRIC_NAMES;

export function isMetricName(name: string): name is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(name);
}

/** The metric called `name`; throws a RangeError listing the known names otherwise. */
export function getMetric(name: string): AnyMetricSpec {
  if (!isMetricName(name)) throw new RangeError(`unknown metric '${name}': known metrics are ${METRIC_NAMES.join(', ')}`);
  return METRICS[name];
}

/** The metrics that share the sample of `group`, in registry order. */
export function metricsOfGroup<G extends SampleGroup>(group: G): MetricSpec<G>[] {
  return METRIC_NAMES.map((n) => METRICS[n] as AnyMetricSpec).filter((m) => m.group === group) as unknown as MetricSpec<G>[];
}

/** The groups (samples) the metrics `names` need, each once, in `SAMPLE_GROUPS` order. */
export function groupsFor(names: readonly MetricName[]): SampleGroup[] {
  const wanted = new Set(names.map((n) => METRICS[n].group));
  return SAMPLE_GROUPS.filter((g) => wanted.has(g));
}

/** Computes every metric of `group` on its shared sample. */
export function computeGroup<G extends SampleGroup>(
  group: G,
  sample: SampleOf[G],
  names: readonly MetricName[] = METRIC_NAMES,
): Partial<Record<MetricName, MetricValue>> {
  const out: Partial<Record<MetricName, MetricValue>> = {};
  for (const m of metricsOfGroup(group)) {
    if (names.includes(m.name)) out[m.name] = m.compute(sample);
  }
  return out;
}
