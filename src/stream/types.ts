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

/** Lifecycle moments of a run. */
export const LIFECYCLE_KINDS = ['start', 'epoch', 'end', 'stop', 'health'] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/**
 * A lifecycle event: `start` (run begins, or resumes at `step`), `epoch` (an epoch ended: see
 * EpochEvent for its fields), `end` (run finished normally), `stop` (run stopped early: by a
 * policy, an error, a signal; `message` says why) or `health` (a gradient-health finding: dead
 * gradient, loss spike, stalled loss; `message` says which).
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
  /** `health` events: which finding ('dead-gradient', 'loss-spike', 'stalled-loss', 'diverged'). */
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

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isNumber(x: unknown): x is number {
  return typeof x === 'number';
}

function isNullableNumber(x: unknown): x is number | null {
  return x === null || typeof x === 'number';
}

const STEP_REQUIRED = ['step', 'epoch', 'wallTime', 'batchSize', 'learningRate', 'stepMs'] as const;
const STEP_NULLABLE = ['loss', 'gradNorm', 'paramNorm', 'updateNorm', 'kappaWStep'] as const;
const SAMPLE_REQUIRED = ['step', 'epoch', 'wallTime', 'batchSize', 'learningRate', 'durationMs'] as const;

/**
 * Why `x` is not a StepEvent (the first problem found), or null when it is one. Non-finite
 * numbers are accepted for the nullable fields (the trace writer turns them into null).
 */
export function stepEventProblem(x: unknown): string | null {
  if (!isRecord(x)) return 'not an object';
  for (const k of STEP_REQUIRED) if (!isNumber(x[k])) return `field '${k}' must be a number`;
  for (const k of STEP_NULLABLE) if (!isNullableNumber(x[k])) return `field '${k}' must be a number or null`;
  return null;
}

/** Why `x` is not a MetricSample (the first problem found), or null when it is one. */
export function metricSampleProblem(x: unknown): string | null {
  if (!isRecord(x)) return 'not an object';
  for (const k of SAMPLE_REQUIRED) if (!isNumber(x[k])) return `field '${k}' must be a number`;
  if (typeof x.group !== 'string') return "field 'group' must be a string";
  if (!isRecord(x.values)) return "field 'values' must be an object";
  for (const [k, v] of Object.entries(x.values)) {
    if (!isNullableNumber(v)) return `values['${k}'] must be a number or null`;
  }
  if (!isRecord(x.reasons)) return "field 'reasons' must be an object";
  for (const [k, v] of Object.entries(x.reasons)) {
    if (typeof v !== 'string') return `reasons['${k}'] must be a string`;
  }
  return null;
}

/** Why `x` is not a LifecycleEvent (the first problem found), or null when it is one. */
export function lifecycleEventProblem(x: unknown): string | null {
  if (!isRecord(x)) return 'not an object';
  if (!(LIFECYCLE_KINDS as readonly unknown[]).includes(x.kind)) {
    return `field 'kind' must be one of ${LIFECYCLE_KINDS.join(', ')}`;
  }
  if (!isNumber(x.wallTime)) return "field 'wallTime' must be a number";
  for (const k of ['step', 'epoch'] as const) {
    if (x[k] !== undefined && !isNumber(x[k])) return `field '${k}' must be a number`;
  }
  if (x.message !== undefined && typeof x.message !== 'string') return "field 'message' must be a string";
  return null;
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
