/**
 * `train(model, data, opts)`: the training loop gradcond owns where `model.fit` cannot, because
 * a policy may change the batch size between steps. It wires three parts:
 *
 * - restore-or-init (restore.ts): where the run starts, from a checkpoint when resuming;
 * - the loop (loop.ts): steps, epochs, validation, the policy's decisions, health findings,
 *   divergence, checkpoints, signals; everything it observes goes out on one record stream;
 * - the recorder (src/trace/recorder.ts): the run directory (manifest, trace.jsonl, run.log,
 *   summary.json) and the log lines, fed by that stream.
 *
 * Data order: epoch e shuffles with a seeded permutation (dataOrder.ts), so that a resumed run
 * ends with the weights of an uninterrupted one.
 */
import { tf } from '../backend/tf.js';
import type { Dataset } from '../data/dataset.js';
import { perExampleLoss } from '../engine/losses.js';
import { UsageError } from '../errors.js';
import { logger } from '../log.js';
import { conditioned, type ConditionedOptimizer } from '../optimizer/conditioned.js';
import { OPTIMIZERS } from '../optimizer/optimizers.js';
import { TraceError } from '../trace/format.js';
import { describeRun, holdsRun, type OpenMode } from '../trace/openRun.js';
import { openRecorder, type Recorder } from '../trace/recorder.js';
import { checkWritableDir } from '../trace/dirs.js';
import { hasCheckpoint, readCheckpoint, removeCheckpoints, writeCheckpoint, type LoopState } from './checkpoint.js';
import { TrainingDiverged } from './errors.js';
import { healthRules } from './health.js';
import { TrainingLoop, type LoopConfig } from './loop.js';
import { runManifest } from './manifest.js';
import { checkOptions, resolveSpec, type TrainOptions, type TrainResult } from './options.js';
import { checkModelFits, preflightStep } from './preflight.js';
import { restoreOrInit, type LoopStart } from './restore.js';

export { epochPermutation, epochSeed } from '../data/random.js';
export { TrainingDiverged } from './errors.js';
export { evaluate } from './evaluate.js';
export { gradcondVersion, modelSummary } from './manifest.js';
export type { EpochSummary, PolicySpec, StopCause, TrainOptions, TrainResult } from './options.js';

/** Default seconds between time-based checkpoints. */
export const CHECKPOINT_SECONDS = 60;

/** How the run directory is opened; a UsageError when a new run would land on an old one. */
function openModeOf(opts: TrainOptions): OpenMode {
  if (opts.resume) return 'resume';
  if (opts.overwrite) return 'overwrite';
  const dir = opts.runDir;
  if (dir !== undefined && (holdsRun(dir) || hasCheckpoint(dir))) {
    throw new UsageError(`${dir} already holds a run (${describeRun(dir)}): continue it with --resume, or replace it with --overwrite`);
  }
  return 'new';
}

/**
 * Checks, before any work, that the run directory can be used as asked: a new run does not land
 * on an old one, a resumed run has a readable checkpoint, and files can be written there (a path
 * under /proc, or under a file, fails here at once). A UsageError says why not. The CLI calls it
 * before loading data; `train` calls it again.
 */
export function checkRunDirectory(opts: Pick<TrainOptions, 'runDir' | 'resume' | 'overwrite'>): void {
  const dir = opts.runDir;
  if (dir === undefined) return;
  openModeOf(opts as TrainOptions);
  if (opts.resume && readCheckpoint(dir) === null) throw new UsageError(`nothing to resume: ${dir} has no checkpoint`);
  try {
    checkWritableDir(dir, 'run directory');
  } catch (err) {
    if (err instanceof TraceError) throw new UsageError(err.message);
    throw err;
  }
}

/** Everything a run needs, set up; `close` releases it (and the optimizer's state). */
interface Setup {
  /** The conditioned optimizer, running the policy, bound as the batch source with the start knobs. */
  opt: ConditionedOptimizer;
  recorder: Recorder;
  policyName: string;
  start: LoopStart;
  resumedFrom: number | null;
  startMessage: string;
  close(): void;
}

/**
 * Restores or inits, wraps the optimizer (with the policy, at the start knobs and state), opens
 * the recorder; undoes what it did if a part fails.
 */
async function setUp(model: tf.LayersModel, data: Dataset, opts: TrainOptions): Promise<Setup> {
  const mode = openModeOf(opts);
  const policy = resolveSpec(opts.policy);
  const optimizerName = opts.optimizer ?? 'sgd';
  const knobs = { learningRate: opts.learningRate, batchSize: opts.batchSize };
  const inner = OPTIMIZERS[optimizerName].create(opts.learningRate);
  const undo: (() => void)[] = [() => inner.dispose()];
  try {
    const seed = opts.seed ?? 0;
    const resumeFrom = mode === 'resume' ? opts.runDir : undefined;
    const { start, resumedFrom } = await restoreOrInit({ resumeFrom, model, optimizer: inner, seed, data, policyName: policy.name, knobs });
    const loss = opts.loss ?? 'categoricalCrossentropy';
    const opt = conditioned(inner, { seed, ...opts.metrics, model, loss, startStep: start.step, policy: policy.choice });
    undo[0] = () => opt.dispose(); // disposes the inner optimizer too
    opt.learningRate = start.knobs.learningRate;
    opt.bindBatchSource(start.knobs.batchSize, start.policyState);
    if (mode === 'overwrite' && opts.runDir !== undefined) removeCheckpoints(opts.runDir);
    const manifest = runManifest(model, data, opts, policy.name, policy.options);
    const groups = [...opt.sampledGroups];
    const recorder = openRecorder({ runDir: opts.runDir, mode, manifest, logLevel: opts.logLevel, console: opts.console, groups });
    undo.push(() => recorder.close());
    if (mode === 'resume') warnUnused(recorder.manifest.config, opts);
    const startMessage =
      resumedFrom !== null ? `resumed at step ${resumedFrom}` : `policy ${policy.name}, ${optimizerName}, lr ${opts.learningRate}, batch ${opts.batchSize}`;
    return { opt, recorder, policyName: policy.name, start, resumedFrom, startMessage, close: () => undo.reverse().forEach((f) => f()) };
  } catch (err) {
    undo.reverse().forEach((f) => f());
    if (err instanceof TraceError) throw new UsageError(err.message);
    throw err;
  }
}

/** The settings a resumed run takes from its own start, not from the options given now. */
const KEPT_ON_RESUME = ['learningRate', 'batchSize', 'optimizer'] as const;

/**
 * A resumed run continues as it started (its checkpoint holds the policy's knobs and the
 * optimizer's state): a learning rate, batch size or optimizer given now that differs from the
 * run's own is not used, and a warning says so rather than ignoring it in silence.
 */
function warnUnused(config: unknown, opts: TrainOptions): void {
  const started = (config ?? {}) as Record<string, unknown>;
  const given: Record<string, unknown> = { ...opts, optimizer: opts.optimizer ?? 'sgd' };
  const differ = KEPT_ON_RESUME.filter((k) => started[k] !== undefined && started[k] !== given[k]);
  if (differ.length === 0) return;
  const list = differ.map((k) => `${k} ${String(given[k])} (the run's: ${String(started[k])})`).join(', ');
  logger().warn(`resuming with the run's own settings: ${list} not used; start a new run to change them`);
}

/** The loop's configuration for this run. */
function loopConfig(model: tf.LayersModel, data: Dataset, opts: TrainOptions, s: Setup): LoopConfig {
  const { runDir } = opts;
  const seed = opts.seed ?? 0;
  const checkpoint =
    runDir === undefined
      ? undefined
      : async (state: LoopState) => {
          const rng = { kind: 'mulberry32-per-epoch' as const, seed };
          await writeCheckpoint(runDir, model, s.opt.inner, { ...state, rng, dataSize: data.size, policy: s.policyName });
          logger().debug('checkpoint written', { step: state.step });
        };
  return {
    model,
    data,
    validation: opts.validation,
    loss: opts.loss ?? 'categoricalCrossentropy',
    seed,
    until: {
      // A budget of examples or seconds alone runs as many epochs as it takes.
      ...(opts.steps !== undefined ? { steps: opts.steps } : { epochs: opts.epochs ?? (opts.maxExamples ?? opts.maxSeconds ? Number.POSITIVE_INFINITY : 1) }),
      maxExamples: opts.maxExamples,
      maxSeconds: opts.maxSeconds,
    },
    validateEvery: opts.validateEvery,
    optimizer: s.opt,
    health: healthRules(opts.health),
    stopOnDeadGradient: opts.stopOnDeadGradient ?? false,
    clock: s.recorder.clock,
    checkpoint,
    checkpointEvery: opts.checkpointEvery,
    checkpointSeconds: opts.checkpointSeconds ?? CHECKPOINT_SECONDS,
    signal: opts.signal,
    onStep: async (e) => {
      s.recorder.check(); // a trace that cannot be written stops the run
      await opts.onStep?.(e);
    },
    onEpoch: opts.onEpoch,
  };
}

/**
 * Trains `model` on `data` (see the module comment). The backend must be chosen first
 * (`useBackend`). Throws a UsageError for bad options or a run directory that cannot be used as
 * asked, and TrainingDiverged (carrying the summary) when a step's numbers are not finite: the
 * conditioned optimizer undoes such a step, so the model keeps the weights from before it, and the
 * run directory keeps its last checkpoint (all finite).
 */
export async function train(model: tf.LayersModel, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  // Everything that can be checked is checked before the run directory is touched.
  checkOptions(data, opts);
  checkModelFits(model, data);
  if (opts.validation !== undefined) checkModelFits(model, opts.validation, 'validation');
  const lossName = opts.loss ?? 'categoricalCrossentropy';
  perExampleLoss(lossName); // a UsageError for an unknown loss
  checkRunDirectory(opts);
  preflightStep(model, data, lossName); // a kernel this backend lacks fails here, with nothing written
  const health = healthRules(opts.health);
  const s = await setUp(model, data, opts);
  try {
    const loop = new TrainingLoop({ ...loopConfig(model, data, opts, s), health }, s.start);
    s.recorder.subscribeTo(loop.records$);
    let end;
    try {
      end = await loop.run(s.startMessage);
    } catch (err) {
      // The loop recorded a stop event saying why; the summary says so too (the original error wins).
      let summary;
      try {
        summary = s.recorder.finish();
      } catch {
        summary = undefined;
      }
      if (err instanceof TrainingDiverged) err.summary = summary;
      throw err;
    }
    s.recorder.check();
    const { step, epoch } = loop.progress;
    return {
      steps: step,
      epochs: epoch,
      history: [...s.recorder.epochs],
      knobs: { learningRate: s.opt.learningRate, batchSize: s.opt.batchSize },
      resumedFrom: s.resumedFrom,
      stopped: end.stopped,
      summary: s.recorder.finish(),
      ...(opts.runDir !== undefined ? { runDir: opts.runDir } : {}),
    };
  } finally {
    s.close();
  }
}
