/**
 * The events gradcond streams while training, and writes to traces. All are plain JSON-safe
 * objects of numbers and strings: no tensors, no classes, so that a recorded trace replays as
 * the same stream.
 *
 * Conventions shared by every event:
 * - `step` is the global optimizer step, 0-based, counted over the whole run (not per epoch);
 * - `epoch` is 1-based everywhere: the first pass over the data is epoch 1 (as in the console);
 * - `wallTime` is milliseconds since the run started;
 * - `batchSize` and `learningRate` are the values in force at that step (policies change them
 *   between steps);
 * - an undefined or non-finite quantity is `null`, never `NaN` (for metric values, with a
 *   reason in `reasons`).
 */
import { z } from 'zod';

/** One optimizer step: the cheap quantities measured on every step. */
export interface StepEvent {
  /** Global optimizer step, 0-based. */
  step: number;
  /** Epoch, 1-based. */
  epoch: number;
  /** Milliseconds since the run started, at the end of the step. */
  wallTime: number;
  /** Examples in this step's batch. */
  batchSize: number;
  /** Learning rate applied at this step. */
  learningRate: number;
  /** Mean training loss of the batch; null when not computed or not finite. */
  loss: number | null;
  /** ‖h̄‖: norm of the batch gradient. */
  gradNorm: number | null;
  /** ‖θ‖: norm of all trainable parameters before the update. */
  paramNorm: number | null;
  /** ‖θ_{t+1} − θ_t‖: norm of the update actually applied. */
  updateNorm: number | null;
  /**
   * κ_W estimated from consecutive steps. Those steps see different batches, so this mixes
   * batch-dissonance into step-consistency; the `update` group's `kappaWUpdate` does not.
   */
  kappaWStep: number | null;
  /** ⟨h̄_t, h̄_{t−1}⟩: this step's batch gradient against the previous step's (null at the first step). */
  gradDotPrevGrad: number | null;
  /** ⟨h̄_t, Δ_{t−1}⟩: this step's batch gradient against the previous update θ_t − θ_{t−1} (hypergradient descent). */
  gradDotPrevUpdate: number | null;
  /** Milliseconds the step took (forward, backward, update; metric groups excluded). */
  stepMs: number;
  /** True when only the loss was measured at this step (`stepMetrics` > 1): the norms are null, not non-finite. */
  partial?: boolean;
}

/**
 * One sampling of a metric group: every metric computed from one shared set of gradient
 * samples (e.g. `weightPerturbation` gives `kappaW`, `cosSimW`, `diversityW`, `coherenceW`).
 */
export interface MetricSample {
  /** Global optimizer step at which the group was sampled, 0-based. */
  step: number;
  epoch: number;
  /** Milliseconds since the run started. */
  wallTime: number;
  batchSize: number;
  learningRate: number;
  /** The metric group sampled, e.g. 'weightPerturbation'. */
  group: string;
  /** Metric name → value; null when undefined at this step (see `reasons`). */
  values: Record<string, number | null>;
  /** Metric name → why its value is null. Only null values have an entry. */
  reasons: Record<string, string>;
  /** Milliseconds the group took to compute. */
  durationMs: number;
}

/** What a `health` event found (see the trainer's health rules). */
export const HEALTH_FINDINGS = ['dead-gradient', 'loss-spike', 'stalled-loss', 'diverged'] as const;
export type HealthFindingName = (typeof HEALTH_FINDINGS)[number];

/** Lifecycle moments of a run. */
export const LIFECYCLE_KINDS = ['start', 'epoch', 'end', 'stop', 'health', 'validation'] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/**
 * A lifecycle event: `start` (run begins, or resumes at `step`), `epoch` (an epoch ended: see
 * EpochEvent for its fields), `end` (run finished normally), `stop` (run stopped early: by a
 * policy, an error, a signal; `message` says why), `health` (a gradient-health finding: dead
 * gradient, loss spike, stalled loss; `message` says which) or `validation` (the validation set
 * evaluated mid-epoch, every `validateEvery` steps: `valLoss`, `valAccuracy` after `step` steps).
 */
export interface LifecycleEvent {
  kind: LifecycleKind;
  /** Milliseconds since the run started. */
  wallTime: number;
  /** Global step at which it happened, when known. */
  step?: number;
  /** Epoch (1-based), when known. */
  epoch?: number;
  message?: string;
  /** `epoch` events: mean training loss and accuracy over the epoch's examples. */
  loss?: number | null;
  accuracy?: number | null;
  /** `epoch` events: loss and accuracy on the validation set, when there is one. */
  valLoss?: number | null;
  valAccuracy?: number | null;
  /** `health` events: which finding (one of HEALTH_FINDINGS; readers accept any name). */
  finding?: string;
}

/** The end of an epoch, as data (a LifecycleEvent of kind 'epoch'). Policies such as `plateau` read it. */
export interface EpochEvent extends LifecycleEvent {
  kind: 'epoch';
  step: number;
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
}

/** A policy decision that changed a knob: written to the trace as a record of type 'update'. */
export interface PolicyDecision {
  /** The step after which the change takes effect (the next step runs with `after`). */
  step: number;
  epoch: number;
  wallTime: number;
  /** The policy (or 'a+b' composition) that decided. */
  policy: string;
  before: { learningRate: number; batchSize: number };
  after: { learningRate: number; batchSize: number };
  /** Why, in the policy's words. */
  reason: string;
}

/** A point of one metric's series, as produced by the `metric(name)` operator. */
export interface Point {
  step: number;
  value: number;
}


// ---------------------------------------------------------------------------------------------
// Validation. The schemas check what a writer is about to store and what a reader loads; the
// `…Problem` functions return the first problem as one short line ("field 'loss' must be a
// number or null"), or null when the value is valid.

/** zod options giving a field's problem as "is missing" or "must be <what>". */
function must(what: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? 'is missing' : `must be ${what}`) };
}

const finite = z.number(must('a finite number'));
const count = z.int(must('an integer')).min(0, 'must be >= 0');
const text = z.string(must('a string'));
/**
 * A measured quantity: a number or null. Non-finite numbers pass, because writers store them as
 * null (JSON has no NaN); what comes back from a file is always a finite number or null.
 */
const measured = z.custom<number | null>((v) => v === null || typeof v === 'number', must('a number or null'));
const knobs = z.looseObject({ learningRate: finite, batchSize: count }, must('an object'));

export const StepEventSchema = z.looseObject(
  {
    step: count,
    epoch: count,
    wallTime: finite,
    batchSize: count,
    learningRate: finite,
    loss: measured,
    gradNorm: measured,
    paramNorm: measured,
    updateNorm: measured,
    kappaWStep: measured,
    // Traces written before these two fields existed lack them: they read as null.
    gradDotPrevGrad: measured.optional().default(null),
    gradDotPrevUpdate: measured.optional().default(null),
    stepMs: finite,
    partial: z.boolean(must('true or false')).optional(),
  },
  must('an object'),
);

export const MetricSampleSchema = z.looseObject(
  {
    step: count,
    epoch: count,
    wallTime: finite,
    batchSize: count,
    learningRate: finite,
    group: text,
    values: z.record(z.string(), measured, must('an object')),
    reasons: z.record(z.string(), text, must('an object')),
    durationMs: finite,
  },
  must('an object'),
);

const lifecycleShape = {
  kind: z.enum(LIFECYCLE_KINDS, must(`one of ${LIFECYCLE_KINDS.join(', ')}`)),
  wallTime: finite,
  step: count.optional(),
  epoch: count.optional(),
  message: text.optional(),
  loss: measured.optional(),
  accuracy: measured.optional(),
  valLoss: measured.optional(),
  valAccuracy: measured.optional(),
  finding: text.optional(),
};

/** Any lifecycle event; lenient about the optional fields, so that older traces read. */
export const LifecycleEventSchema = z.looseObject(lifecycleShape, must('an object'));

/** An end of epoch as the trainer writes it: every structured field present. */
export const EpochEventSchema = z.looseObject(
  {
    ...lifecycleShape,
    kind: z.literal('epoch', must("'epoch'")),
    step: count,
    epoch: count,
    loss: measured,
    accuracy: measured,
    valLoss: measured,
    valAccuracy: measured,
  },
  must('an object'),
);

export const PolicyDecisionSchema = z.looseObject(
  { step: count, epoch: count, wallTime: finite, policy: text, before: knobs, after: knobs, reason: text },
  must('an object'),
);

/** Where an issue is: "field 'loss'", "values['kappaW']"; empty for the value itself. */
function where(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '';
  const [head, ...rest] = path.map(String);
  return rest.length === 0 ? `field '${head}' ` : `${head}${rest.map((k) => `['${k}']`).join('')} `;
}

/** The first problem zod finds with `x`, as one line, or null. */
export function schemaProblem(schema: z.ZodType, x: unknown): string | null {
  const result = schema.safeParse(x);
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  return `${where(issue.path)}${issue.message}`;
}

/** Why `x` is not a StepEvent (the first problem found), or null when it is one. */
export function stepEventProblem(x: unknown): string | null {
  return schemaProblem(StepEventSchema, x);
}

/** Why `x` is not a MetricSample (the first problem found), or null when it is one. */
export function metricSampleProblem(x: unknown): string | null {
  return schemaProblem(MetricSampleSchema, x);
}

/** Why `x` is not a LifecycleEvent (the first problem found), or null when it is one. */
export function lifecycleEventProblem(x: unknown): string | null {
  return schemaProblem(LifecycleEventSchema, x);
}

/** Why `x` is not a complete EpochEvent (the first problem found), or null when it is one. */
export function epochEventProblem(x: unknown): string | null {
  return schemaProblem(EpochEventSchema, x);
}

/** Why `x` is not a PolicyDecision (the first problem found), or null when it is one. */
export function policyDecisionProblem(x: unknown): string | null {
  return schemaProblem(PolicyDecisionSchema, x);
}

export function isStepEvent(x: unknown): x is StepEvent {
  return stepEventProblem(x) === null;
}

export function isMetricSample(x: unknown): x is MetricSample {
  return metricSampleProblem(x) === null;
}

export function isLifecycleEvent(x: unknown): x is LifecycleEvent {
  return lifecycleEventProblem(x) === null;
}

export function isEpochEvent(x: unknown): x is EpochEvent {
  return epochEventProblem(x) === null;
}

export function isPolicyDecision(x: unknown): x is PolicyDecision {
  return policyDecisionProblem(x) === null;
}
