/** What `train()` takes and returns, and the checks on what it takes. */
import { resolvePolicy } from '../../policies/index.js';
import type { Dataset } from '../data/dataset.js';
import { z } from 'zod';
import { LOSS_NAMES } from '../engine/losses.js';
import { UsageError } from '../errors.js';
import { bool, func, integer, oneOf, parseOptions, positiveInt, positiveNumber, show, text } from '../validation.js';
import { LOG_LEVELS, logger } from '../log.js';
import type { ConditionedOptions } from '../optimizer/conditioned.js';
import { ConditionedOptionsSchema } from '../optimizer/options.js';
import { OPTIMIZERS, type OptimizerName } from '../optimizer/optimizers.js';
import type { PolicyChoice } from '../optimizer/options.js';
import type { Knobs } from '../policy.js';
import type { EpochEvent, StepEvent } from '../stream/types.js';
import type { JsonValue } from '../trace/format.js';
import type { RunSummary } from '../trace/summary.js';
import { healthRules, type HealthRules } from './health.js';
import { checkDataset } from './preflight.js';

/**
 * A policy by registry name ('a+b' composes) or by name with its options: what the conditioned
 * optimizer runs. `{name, hyper}` is the older spelling of `{name, options}`.
 */
export type PolicySpec = PolicyChoice | { name: string; hyper?: unknown };

export interface TrainOptions {
  /** Policy (default 'constant'). */
  policy?: PolicySpec;
  /** Full passes over the data; exclusive with `steps`. Default 1 when neither is given. */
  epochs?: number;
  /** Optimizer steps in all; exclusive with `epochs`. */
  steps?: number;
  /** Also end (as done) once this many examples have been seen in all (a compute budget). */
  maxExamples?: number;
  /** Also end (as done) once the run's clock passes this many seconds (a time budget). */
  maxSeconds?: number;
  /** Initial batch size (a policy may change it). */
  batchSize: number;
  /** Initial learning rate (a policy may change it). */
  learningRate: number;
  optimizer?: OptimizerName;
  /** Per-example loss name (default 'categoricalCrossentropy'). */
  loss?: string;
  /** Evaluated at the end of every epoch (and at the end of a run that ends mid-epoch). */
  validation?: Dataset;
  /** Also evaluate the validation set every this many steps (a `validation` event; finer time-to-target). */
  validateEvery?: number;
  /** Seeds the data order and the metric sampling (default 0). */
  seed?: number;
  /** Metric options for the conditioned optimizer (groups, budget, every…). */
  metrics?: Omit<ConditionedOptions, 'model' | 'loss' | 'policy' | 'startStep'>;
  /** Run directory: manifest, trace, run.log, summary.json, checkpoint. */
  runDir?: string;
  /** Checkpoint every this many steps (and always at the end) when `runDir` is given. */
  checkpointEvery?: number;
  /** Also checkpoint when this many seconds have passed since the last one (default 60). */
  checkpointSeconds?: number;
  /** Continue the run in `runDir` from its checkpoint. */
  resume?: boolean;
  /** Replace a run already in `runDir` (its trace, log, summary and checkpoint). */
  overwrite?: boolean;
  /** Aborting stops the run between steps (a checkpoint and a 'stop' event are written). */
  signal?: AbortSignal;
  /** Stop (with a checkpoint) when a dead gradient is found (default false: report and go on). */
  stopOnDeadGradient?: boolean;
  /** Overrides of the health rules' constants (see health.ts). */
  health?: Partial<HealthRules>;
  /** Level of the run's logger (run.log and console), default 'info'. */
  logLevel?: string;
  /** Also log to the console (stderr) during the run (default false: a library stays quiet). */
  console?: boolean;
  /** Extra configuration recorded in the manifest (e.g. the CLI's arguments). */
  config?: JsonValue;
  /** Called after every step, before the next one (progress, tests). */
  onStep?: (event: StepEvent) => void | Promise<void>;
  /** Called at the end of every epoch, after validation. */
  onEpoch?: (summary: EpochSummary) => void;
}

/** The end of an epoch: the epoch event (1-based `epoch`; `step` = steps done). */
export type EpochSummary = EpochEvent;

/** Why a run stopped before its end: a signal (abort) or a dead gradient. */
export type StopCause = 'aborted' | 'dead-gradient';

export interface TrainResult {
  /** Optimizer steps done in all (including those before a resume). */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  /** Every epoch's end, including those before a resume. */
  history: EpochSummary[];
  /** Knobs at the end (the policy's). */
  knobs: Knobs;
  /** Step of the checkpoint the run resumed from, or null. */
  resumedFrom: number | null;
  /** Why the run stopped early, or null when it ran to its end. */
  stopped: StopCause | null;
  /** The run's summary (also summary.json in the run directory). */
  summary: RunSummary;
  runDir?: string;
}

/**
 * What `train` accepts, as one zod schema: the CLI maps its flags onto these options and gets
 * the same one-line messages (validation.ts names an option and its flag). Functions, data sets
 * and signals are checked for their kind only.
 */
const anything = z.custom<unknown>(() => true);
/** The losses of one-hot targets, which is what the trainer makes of class labels. */
const TRAIN_LOSSES = LOSS_NAMES.filter((l) => l !== 'sparseCategoricalCrossentropy');
const abortSignal = z.custom<AbortSignal>((v) => v instanceof AbortSignal, { error: (i) => `signal must be an AbortSignal, got ${show(i.input)}` });
const plainJson = z.custom<JsonValue>(
  (v) => {
    try {
      return JSON.stringify(v) !== undefined;
    } catch {
      return false;
    }
  },
  { error: 'config must be plain JSON (no cycles, functions or BigInts)' },
);
export const TrainOptionsSchema = z
  .object({
    policy: z.union([z.string(), z.object({ name: z.string() }).loose()], { error: (i) => `policy must be a policy name or {name, options}, got ${show(i.input)}` }).optional(),
    epochs: positiveInt('epochs').optional(),
    steps: positiveInt('steps').optional(),
    maxExamples: positiveInt('maxExamples').optional(),
    maxSeconds: positiveNumber('maxSeconds').optional(),
    batchSize: positiveInt('batchSize'),
    learningRate: positiveNumber('learningRate'),
    optimizer: oneOf('optimizer', Object.keys(OPTIMIZERS) as OptimizerName[]).optional(),
    loss: z
      .custom<string>((v) => typeof v === 'string' && TRAIN_LOSSES.includes(v), {
        error: (i) =>
          i.input === 'sparseCategoricalCrossentropy'
            ? 'loss sparseCategoricalCrossentropy needs class indices as targets, but the trainer gives one-hot rows: use categoricalCrossentropy, the same loss on one-hot rows'
            : `loss must be one of ${TRAIN_LOSSES.join(', ')}, got ${show(i.input)}`,
      })
      .optional(),
    validation: anything.optional(),
    validateEvery: positiveInt('validateEvery').optional(),
    seed: integer('seed').optional(),
    metrics: anything.optional(),
    runDir: text('runDir').optional(),
    checkpointEvery: positiveInt('checkpointEvery').optional(),
    checkpointSeconds: positiveNumber('checkpointSeconds').optional(),
    resume: bool('resume').optional(),
    overwrite: bool('overwrite').optional(),
    signal: abortSignal.optional(),
    stopOnDeadGradient: bool('stopOnDeadGradient').optional(),
    health: anything.optional(),
    logLevel: oneOf('logLevel', LOG_LEVELS).optional(),
    console: bool('console').optional(),
    config: plainJson.optional(),
    onStep: func('onStep').optional(),
    onEpoch: func('onEpoch').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const problem =
      o.epochs !== undefined && o.steps !== undefined ? 'give epochs or steps, not both'
      : o.resume && o.runDir === undefined ? 'resume needs a run directory (runDir, --run-dir)'
      : o.resume && o.overwrite ? 'give resume or overwrite, not both'
      : null;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const KNOWN_OPTIONS = Object.keys(TrainOptionsSchema.shape);

/** `metrics`: the conditioned optimizer's options but those the trainer sets itself. */
const MetricOptionsSchema = ConditionedOptionsSchema.omit({ model: true, loss: true, policy: true, startStep: true });

/** Checks `metrics` as conditioned() would, with the same messages, before anything starts. */
function checkMetricOptions(raw: unknown): void {
  if (raw === undefined) return;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`metrics must be an object of conditioned() options, got ${show(raw)}`);
  const m = parseOptions(MetricOptionsSchema, raw, 'train() metrics', Object.keys(MetricOptionsSchema.shape));
  if (m.budget !== undefined && m.every !== undefined) throw new UsageError('give budget or every, not both');
}

/**
 * Checks `train`'s options (without the data): a UsageError naming the first bad one. The CLI
 * calls it before loading any data.
 */
export function validateTrainOptions(opts: unknown): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new UsageError(`train() options must be an object, got ${show(opts)}`);
  const parsed = parseOptions(TrainOptionsSchema, opts, 'train()', KNOWN_OPTIONS);
  checkMetricOptions(parsed.metrics);
  healthRules(parsed.health as Partial<HealthRules> | undefined);
  resolveSpec(parsed.policy as PolicySpec | undefined); // the policy's name and options
}

/** Throws a UsageError for the first bad option, or a data set (training or validation) that is not one. */
export function checkOptions(data: Dataset, opts: TrainOptions): void {
  validateTrainOptions(opts);
  // The process-wide logger refuses a bad GRADCOND_LOG_LEVEL at its first use, which can be mid-run: ask now.
  try {
    logger();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  checkDataset(data, 'data');
  if (opts.validation !== undefined) checkDataset(opts.validation, 'validation');
}

/** The run's policy choice (default 'constant'), its policy's name and validated options. */
export function resolveSpec(spec: PolicySpec | undefined): { choice: PolicyChoice; name: string; options: unknown } {
  const s = spec ?? 'constant';
  const { name, options } = typeof s === 'string' ? { name: s, options: undefined } : { name: s.name, options: 'hyper' in s ? s.hyper : 'options' in s ? s.options : undefined };
  const policy = resolvePolicy(name);
  const validated: unknown = policy.validate(options);
  return { choice: options === undefined ? name : { name, options }, name: policy.name, options: validated };
}
