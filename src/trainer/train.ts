/**
 * `train(model, data, opts)`: the training loop gradcond owns where `model.fit` cannot, because
 * a policy may change the batch size between steps.
 *
 * Per step: the next `batchSize` examples of the epoch's seeded permutation, `setBatch(x, y)`
 * and `minimize(loss)` on a `conditioned` optimizer; the policy sees every step event and metric
 * sample (synchronously, as the wrapper emits them) and its guarded updates are applied before
 * the next step. A validation pass ends each epoch. A non-finite loss stops the run with a
 * `TrainingDiverged` error (and a 'stop' event in the trace).
 *
 * With `runDir`: manifest + trace.jsonl (every step event and metric sample as it happens,
 * lifecycle events start/epoch/end/stop), run.log, and checkpoints every `checkpointEvery`
 * steps and at the end; `resume: true` continues from the checkpoint so that the final weights
 * are those of an uninterrupted run.
 *
 * Data order: epoch e shuffles with `permutation(size, mulberry32(epochSeed(seed, e)))`, so the
 * RNG state needed to continue is just (seed, epoch, position).
 */
import * as fs from 'node:fs';
import { map, merge, type Subscription } from 'rxjs';
import { resolvePolicy } from '../../policies/index.js';
import { tf } from '../backend/tf.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { mulberry32, permutation } from '../data/random.js';
import { batchLoss, perExampleLoss } from '../engine/losses.js';
import { UsageError } from '../errors.js';
import { createLogger, logger, setLogger, type Logger } from '../log.js';
import { conditioned, type ConditionedOptions } from '../optimizer/conditioned.js';
import { OPTIMIZERS, type OptimizerName } from '../optimizer/optimizers.js';
import { policySteps, type AnyPolicy, type Knobs, type PolicyUpdate } from '../policy.js';
import type { MetricSample, StepEvent } from '../stream/types.js';
import type { JsonValue, LayerSummary, RunManifest } from '../trace/format.js';
import { readManifest } from '../trace/reader.js';
import { createRun, type TraceWriter } from '../trace/writer.js';
import { readCheckpoint, restoreModel, restoreOptimizer, writeCheckpoint, type LoopState } from './checkpoint.js';
import { openRun } from './openRun.js';


/**
 * A policy by registry name ('a+b' composes), by name with hyperparameters, or a policy object
 * not in the registry (tests, user code) with its hyperparameters.
 */
export type PolicySpec = string | { name: string; hyper?: unknown } | { policy: AnyPolicy; hyper?: unknown };

export interface TrainOptions {
  /** Policy (default 'constant'). */
  policy?: PolicySpec;
  /** Full passes over the data; exclusive with `steps`. Default 1 when neither is given. */
  epochs?: number;
  /** Optimizer steps in all; exclusive with `epochs`. */
  steps?: number;
  /** Initial batch size (a policy may change it). */
  batchSize: number;
  /** Initial learning rate (a policy may change it). */
  learningRate: number;
  optimizer?: OptimizerName;
  /** Per-example loss name (default 'categoricalCrossentropy'). */
  loss?: string;
  /** Evaluated at the end of every epoch: loss and accuracy. */
  validation?: Dataset;
  /** Seeds the data order and the metric sampling (default 0). */
  seed?: number;
  /** Metric options for the conditioned optimizer (groups, budget, every…). */
  metrics?: Omit<ConditionedOptions, 'model' | 'loss'>;
  /** Run directory: manifest, trace, run.log, checkpoint. */
  runDir?: string;
  /** Checkpoint every this many steps (and always at the end) when `runDir` is given. */
  checkpointEvery?: number;
  /** Continue the run in `runDir` from its checkpoint. */
  resume?: boolean;
  /** Aborting stops the run between steps (a checkpoint and a 'stop' event are written). */
  signal?: AbortSignal;
  /** Level of the run's logger (run.log and console), default 'info'. */
  logLevel?: string;
  /** Also log to the console (stderr) during the run (default false: a library stays quiet). */
  console?: boolean;
  /** Extra configuration recorded in the manifest (e.g. the CLI's arguments). */
  config?: JsonValue;
  /** Called after every step, before the next one (progress, tests). */
  onStep?: (event: StepEvent) => void | Promise<void>;
  /** Called at the end of every epoch. */
  onEpoch?: (summary: EpochSummary) => void;
}

export interface EpochSummary {
  epoch: number;
  /** Global steps done at the end of the epoch. */
  step: number;
  /** Mean training loss over the epoch's examples. */
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface TrainResult {
  /** Optimizer steps done in all (including those before a resume). */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  history: EpochSummary[];
  /** Knobs at the end. */
  knobs: Knobs;
  /** Step of the checkpoint the run resumed from, or null. */
  resumedFrom: number | null;
  /** 'aborted' when the signal stopped the run, else null. */
  stopped: 'aborted' | null;
  runDir?: string;
}

/** The loss became non-finite: the run stopped. */
export class TrainingDiverged extends Error {
  override name = 'TrainingDiverged';
  constructor(
    readonly step: number,
    readonly epoch: number,
    readonly learningRate: number,
  ) {
    super(`training diverged: non-finite loss at step ${step} (epoch ${epoch + 1}, learning rate ${learningRate}); try a smaller learning rate`);
  }
}

/** The seed of epoch e's permutation. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
}

export function epochPermutation(size: number, seed: number, epoch: number): Int32Array {
  return permutation(size, mulberry32(epochSeed(seed, epoch)));
}

function positiveInt(name: string, v: unknown): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0)) {
    throw new UsageError(`${name} must be a positive integer, got ${String(v)}`);
  }
}

function checkOptions(data: Dataset, opts: TrainOptions): void {
  positiveInt('batchSize', opts.batchSize);
  positiveInt('epochs', opts.epochs);
  positiveInt('steps', opts.steps);
  positiveInt('checkpointEvery', opts.checkpointEvery);
  if (opts.epochs !== undefined && opts.steps !== undefined) throw new UsageError('give epochs or steps, not both');
  if (!(Number.isFinite(opts.learningRate) && opts.learningRate > 0)) {
    throw new UsageError(`learningRate must be a positive finite number, got ${opts.learningRate}`);
  }
  if (opts.seed !== undefined && !Number.isInteger(opts.seed)) throw new UsageError(`seed must be an integer, got ${opts.seed}`);
  if (opts.optimizer !== undefined && !Object.hasOwn(OPTIMIZERS, opts.optimizer)) {
    throw new UsageError(`unknown optimizer '${opts.optimizer}': choose one of ${Object.keys(OPTIMIZERS).join(', ')}`);
  }
  if (data.size < 1) throw new UsageError(`the data set '${data.name}' is empty`);
  if (opts.resume && opts.runDir === undefined) throw new UsageError('resume needs a run directory');
}

function resolveSpec(spec: PolicySpec | undefined): { policy: AnyPolicy; hyper: unknown } {
  const s = spec ?? 'constant';
  if (typeof s === 'string') return { policy: resolvePolicy(s), hyper: resolvePolicy(s).validate(undefined) };
  const policy = 'policy' in s ? s.policy : resolvePolicy(s.name);
  return { policy, hyper: policy.validate(s.hyper) };
}

let cachedVersion: string | undefined;
/** gradcond's version, from its package.json (found from src/ or dist/src/). */
export function gradcondVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gradcond' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // try the next
    }
  }
  return (cachedVersion = 'unknown');
}

export function modelSummary(model: tf.LayersModel): LayerSummary[] {
  return model.layers.map((l) => {
    let outputShape: JsonValue | undefined;
    try {
      outputShape = l.outputShape as JsonValue;
    } catch {
      outputShape = undefined; // a layer used more than once has no single output shape
    }
    return { name: l.name, className: l.getClassName(), params: l.countParams(), ...(outputShape !== undefined ? { outputShape } : {}) };
  });
}

function describeData(d: Dataset): JsonValue {
  return { name: d.name, size: d.size, inputShape: d.inputShape, classes: d.classes };
}

/** The JSON-safe configuration recorded in the manifest. */
function configOf(data: Dataset, opts: TrainOptions, policyName: string, hyper: unknown): JsonValue {
  const { signal: _s, onStep: _o, onEpoch: _e, validation, config, metrics, ...rest } = opts;
  return JSON.parse(
    JSON.stringify({
      ...rest,
      policy: { name: policyName, hyper: hyper ?? null },
      optimizer: opts.optimizer ?? 'sgd',
      loss: opts.loss ?? 'categoricalCrossentropy',
      seed: opts.seed ?? 0,
      metrics: metrics ?? {},
      data: describeData(data),
      validation: validation ? describeData(validation) : null,
      extra: config ?? null,
    }),
  ) as JsonValue;
}

/** Mean loss and accuracy of `model` on `data`, in batches, no gradients. */
export function evaluate(model: tf.LayersModel, data: Dataset, lossName: string, batch = 256): { loss: number; accuracy: number } {
  const loss = perExampleLoss(lossName);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.size; start += batch) {
    const idx = Int32Array.from({ length: Math.min(batch, data.size - start) }, (_, i) => start + i);
    const { x, y } = batchTensors(data, idx);
    try {
      const [l, c] = tf.tidy(() => {
        const p = model.predict(x) as tf.Tensor;
        return [loss(y, p).sum().dataSync()[0], tf.equal(p.argMax(-1), y.argMax(-1)).sum().dataSync()[0]];
      });
      lossSum += l;
      correct += c;
    } finally {
      tf.dispose([x, y]);
    }
  }
  return { loss: lossSum / data.size, accuracy: correct / data.size };
}

/**
 * Trains `model` on `data` (see the module comment). The backend must be chosen first
 * (`useBackend`). Throws a UsageError for bad options, TrainingDiverged on a non-finite loss.
 */
export async function train(model: tf.LayersModel, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  checkOptions(data, opts);
  const seed = opts.seed ?? 0;
  const lossName = opts.loss ?? 'categoricalCrossentropy';
  const lossFn = perExampleLoss(lossName);
  const { policy, hyper } = resolveSpec(opts.policy);
  const totalEpochs = opts.steps === undefined ? (opts.epochs ?? 1) : undefined;
  const runDir = opts.runDir;

  const ckpt = opts.resume ? readCheckpoint(runDir!) : null;
  if (opts.resume && ckpt === null) throw new UsageError(`nothing to resume: ${runDir} has no checkpoint`);
  if (ckpt) {
    const s = ckpt.state;
    if (s.rng.seed !== seed) throw new UsageError(`the checkpoint was written with seed ${s.rng.seed}, not ${seed}`);
    if (s.dataSize !== data.size) throw new UsageError(`the checkpoint was written for ${s.dataSize} examples, not ${data.size}`);
    if (s.policy !== policy.name) throw new UsageError(`the checkpoint was written with policy '${s.policy}', not '${policy.name}'`);
  }

  const optimizerName = opts.optimizer ?? 'sgd';
  const inner = OPTIMIZERS[optimizerName].create(opts.learningRate);
  const loop: LoopState = ckpt
    ? {
        step: ckpt.state.step,
        epoch: ckpt.state.epoch,
        position: ckpt.state.position,
        knobs: { ...ckpt.state.knobs },
        policyState: ckpt.state.policyState,
        lossSum: ckpt.state.lossSum,
        examples: ckpt.state.examples,
      }
    : {
        step: 0,
        epoch: 0,
        position: 0,
        knobs: { learningRate: opts.learningRate, batchSize: opts.batchSize },
        policyState: policy.init(hyper, { learningRate: opts.learningRate, batchSize: opts.batchSize }) as JsonValue,
        lossSum: 0,
        examples: 0,
      };
  if (ckpt) {
    try {
      await restoreModel(ckpt, model);
      await restoreOptimizer(ckpt, inner);
    } catch (err) {
      inner.dispose();
      throw new UsageError(`cannot resume from ${ckpt.dir}: ${(err as Error).message}`);
    }
  }

  let opt: ReturnType<typeof conditioned>;
  try {
    opt = conditioned(inner, { seed, ...opts.metrics, model, loss: lossName, startStep: loop.step });
  } catch (err) {
    inner.dispose();
    throw err;
  }
  opt.learningRate = loop.knobs.learningRate;
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);

  // Run directory: trace writer and run logger.
  let trace: TraceWriter | null = null;
  let runLogger: Logger | null = null;
  let prevLogger: Logger | undefined;
  const runStart = Date.now();
  if (runDir !== undefined) {
    const manifest: RunManifest = {
      config: configOf(data, opts, policy.name, hyper),
      seed,
      backend: tf.getBackend(),
      versions: { gradcond: gradcondVersion(), tfjs: tf.version.tfjs, node: process.version },
      model: modelSummary(model),
      startTime: new Date(runStart).toISOString(),
    };
    try {
      trace = ckpt ? openRun(runDir) : createRun(runDir, manifest);
    } catch (err) {
      opt.dispose();
      throw new UsageError((err as Error).message);
    }
    runLogger = createLogger({ level: opts.logLevel ?? 'info', runDir, console: opts.console ?? false });
    prevLogger = setLogger(runLogger);
  }
  const log = logger();

  // The wrapper's clock starts in this process: shift its events to the run's time.
  const stepOffset = loop.step;
  const startMs = ckpt ? Date.parse(readManifest(runDir!).startTime) || runStart : runStart;
  const wallOffset = Date.now() - startMs;
  const shift = <T extends StepEvent | MetricSample>(e: T): T => ({ ...e, wallTime: e.wallTime + wallOffset });
  const steps$ = opt.steps$.pipe(map(shift));
  const metrics$ = opt.metrics$.pipe(map(shift));

  let lastStep: StepEvent | null = null;
  let pending: PolicyUpdate | null = null;
  let policyState = loop.policyState;
  const subs: Subscription[] = [];
  subs.push(
    steps$.subscribe((e) => {
      lastStep = e;
      trace?.step(e);
    }),
  );
  if (trace) subs.push(metrics$.subscribe((s) => trace!.metric(s)));
  subs.push(
    merge(steps$, metrics$)
      .pipe(policySteps(policy, hyper, loop.knobs, policyState))
      .subscribe((s) => {
        policyState = s.state as JsonValue;
        if (s.update) {
          const reasons = [pending?.reason, s.update.reason].filter((r): r is string => r !== undefined);
          pending = { ...pending, ...s.update, ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
        }
      }),
  );

  const history: EpochSummary[] = [];
  let stopped: TrainResult['stopped'] = null;
  const checkpoint = async () => {
    if (runDir === undefined) return;
    await writeCheckpoint(runDir, model, inner, {
      ...loop,
      policyState,
      rng: { kind: 'mulberry32-per-epoch', seed },
      dataSize: data.size,
      policy: policy.name,
    });
    log.debug('checkpoint written', { step: loop.step });
  };
  const done = () => (opts.steps !== undefined ? loop.step >= opts.steps : loop.epoch >= totalEpochs!);

  try {
    if (ckpt) {
      trace?.event({ kind: 'start', step: loop.step, epoch: loop.epoch, message: `resumed at step ${loop.step}` });
      log.info('resumed', { step: loop.step, epoch: loop.epoch + 1 });
    } else {
      trace?.event({ kind: 'start', step: 0, epoch: 0, message: `policy ${policy.name}, ${optimizerName}, lr ${opts.learningRate}, batch ${opts.batchSize}` });
    }
    let perm = epochPermutation(data.size, seed, loop.epoch);
    while (!done()) {
      if (opts.signal?.aborted) {
        stopped = 'aborted';
        break;
      }
      const b = Math.min(loop.knobs.batchSize, data.size - loop.position);
      const { x, y } = batchTensors(data, perm.subarray(loop.position, loop.position + b));
      opt.epoch = loop.epoch;
      lastStep = null;
      try {
        opt.setBatch(x, y);
        opt.minimize(() => batchLoss(lossFn, y, model.apply(x, { training: true }) as tf.Tensor), false, varList);
      } finally {
        tf.dispose([x, y]);
      }
      const event = lastStep as StepEvent | null;
      if (event === null || event.loss === null) {
        const err = new TrainingDiverged(loop.step, loop.epoch, loop.knobs.learningRate);
        trace?.event({ kind: 'stop', step: loop.step, epoch: loop.epoch, message: err.message });
        log.error(err.message);
        throw err;
      }
      loop.step++;
      loop.position += b;
      loop.lossSum += event.loss * b;
      loop.examples += b;

      const update = pending as PolicyUpdate | null;
      pending = null;
      if (update) {
        if (update.learningRate !== undefined) opt.learningRate = update.learningRate;
        loop.knobs = { learningRate: update.learningRate ?? loop.knobs.learningRate, batchSize: update.batchSize ?? loop.knobs.batchSize };
        log.info('policy update', { step: loop.step, ...update });
      }
      await opts.onStep?.(event);

      if (loop.position >= data.size) {
        const summary: EpochSummary = { epoch: loop.epoch, step: loop.step, loss: loop.lossSum / loop.examples };
        if (opts.validation) {
          const v = evaluate(model, opts.validation, lossName);
          summary.valLoss = v.loss;
          summary.valAccuracy = v.accuracy;
        }
        history.push(summary);
        const text = `epoch ${summary.epoch + 1}: loss ${summary.loss.toFixed(4)}${summary.valLoss !== undefined ? ` val_loss ${summary.valLoss.toFixed(4)} val_acc ${summary.valAccuracy!.toFixed(4)}` : ''}`;
        trace?.event({ kind: 'epoch', step: loop.step, epoch: loop.epoch, message: text });
        log.info(text);
        opts.onEpoch?.(summary);
        loop.epoch++;
        loop.position = 0;
        loop.lossSum = 0;
        loop.examples = 0;
        perm = epochPermutation(data.size, seed, loop.epoch);
      }
      if (opts.checkpointEvery !== undefined && loop.step % opts.checkpointEvery === 0) await checkpoint();
    }
    await checkpoint();
    if (stopped) trace?.event({ kind: 'stop', step: loop.step, epoch: loop.epoch, message: 'aborted' });
    else trace?.event({ kind: 'end', step: loop.step, epoch: loop.epoch, message: `done after ${loop.step} steps` });
    return {
      steps: loop.step,
      epochs: loop.epoch,
      history,
      knobs: { ...loop.knobs },
      resumedFrom: ckpt ? stepOffset : null,
      stopped,
      ...(runDir !== undefined ? { runDir } : {}),
    };
  } finally {
    for (const s of subs) s.unsubscribe();
    opt.dispose(); // completes the streams, disposes the inner optimizer's state
    trace?.close();
    if (runLogger) {
      setLogger(prevLogger);
      runLogger.close();
    }
  }
}
