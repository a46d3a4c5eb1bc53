/**
 * `conditioned(optimizer, options)`: a drop-in `tf.Optimizer` that wraps any tfjs optimizer,
 * updates the weights exactly as the wrapped one would, and measures gradient conditioning
 * while it trains:
 *   - every step, at no extra forward/backward pass: loss, ‖h̄‖, ‖θ‖, the update norm,
 *     kappaWStep and the hypergradient dot products, on `steps$`;
 *   - on sampling steps (a cadence per group, or an overhead budget): the metric groups on the
 *     step's own batch, after the update, on `metrics$`;
 *   - the end of every epoch (from `callbacks()` or the trainer), on `epochs$`.
 * With a `policy`, the wrapper runs it on those streams and applies its learning-rate changes
 * between steps; a batch-size change is published as `batchSize` for the batch source to read
 * (gradcond's trainer, or `dynamicBatches` under `model.fitDataset`). Every decision is on
 * `decisions$`. A step whose loss, gradient or update is not finite is undone and stops training
 * with a `NonFiniteStep` error (and the step event, with nulls, on `steps$`).
 */
import { Observable, Subject, merge, type Subscription } from 'rxjs';

import { tf } from '../backend/tf.js';
import { createMask } from '../engine/mask.js';
import { type EngineContext, type Measurement, measureBatch, type StepContext } from '../engine/measure.js';
import { perExampleLoss } from '../engine/losses.js';
import { NonFiniteStep, UsageError } from '../errors.js';
import { logger } from '../log.js';
import { type SampledGroup, computeGroup, metricsOfGroup } from '../metrics/registry.js';
import type { EpochEvent, MetricSample, PolicyDecision, StepEvent } from '../stream/types.js';
import { BatchCapture, type CapturedBatch } from './capture.js';
import { getLearningRate, setLearningRate } from './learningRate.js';
import { type ConditionedOptions, groupsOf, validateConditionedOptions } from './options.js';
import { PolicyRunner } from './policyRunner.js';
import { type Cadence, MetricScheduler } from './schedule.js';
import { StepStats } from './stepStats.js';

export { PRESETS, type ConditionedOptions } from './options.js';
export { SAMPLED_GROUPS, type SampledGroup } from '../metrics/registry.js';

/** A variable's name and value, as tfjs optimizers save their state. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** Layers whose training-mode forward pass differs from inference mode. */
const TRAINING_DEPENDENT = /Dropout|BatchNormalization|GaussianNoise|LayerNormalization/;

export class ConditionedOptimizer extends tf.Optimizer {
  static className = 'ConditionedOptimizer';
  readonly steps$: Observable<StepEvent>;
  readonly metrics$: Observable<MetricSample>;
  readonly epochs$: Observable<EpochEvent>;
  readonly decisions$: Observable<PolicyDecision>;
  /** Epoch (1-based) stamped on events; `callbacks()` or the trainer keeps it current. */
  epoch = 1;
  readonly options: ConditionedOptions;

  private readonly stepSubject = new Subject<StepEvent>();
  private readonly metricSubject = new Subject<MetricSample>();
  private readonly epochSubject = new Subject<EpochEvent>();
  private readonly scheduler: MetricScheduler;
  private readonly groups: SampledGroup[];
  private readonly stats = new StepStats();
  private readonly policy: PolicyRunner | null;
  private policySub: Subscription | null = null;
  private capture: BatchCapture | null = null;
  private model: tf.LayersModel | null = null;
  private engine: EngineContext | null = null;
  private engineReason = 'no model attached: pass {model} to conditioned() or call attach(model)';
  private pendingBatch: CapturedBatch | null = null;
  private batchSourceBound = false;
  private step = 0;
  private startMs: number | null = null;
  private stepMsAvg = 0;
  private done = false;
  private loopNoted = false;

  constructor(
    readonly inner: tf.Optimizer,
    options: ConditionedOptions = {},
  ) {
    super();
    this.options = validateConditionedOptions(options);
    if (!(inner instanceof tf.Optimizer)) throw new UsageError('conditioned() wraps a tf.Optimizer (e.g. tf.train.sgd(0.1))');
    try {
      getLearningRate(inner);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    this.step = this.options.startStep ?? 0;
    this.policy = this.options.policy === undefined ? null : new PolicyRunner(this.options.policy, { learningRate: this.learningRate, batchSize: 0 });
    const reads = this.policy?.reads ?? [];
    this.groups = [...new Set([...groupsOf(this.options.groups), ...reads])];
    this.scheduler = new MetricScheduler(this.groups, cadenceOf(this.options), { priority: reads });
    this.steps$ = this.stepSubject.asObservable();
    this.metrics$ = this.metricSubject.asObservable();
    this.epochs$ = this.epochSubject.asObservable();
    this.decisions$ = this.policy?.decisions$ ?? new Observable<PolicyDecision>();
    if (this.policy) this.policySub = this.policy.run(merge(this.steps$, this.metrics$, this.epochs$), (lr) => (this.learningRate = lr));
    if (this.options.model) this.attach(this.options.model);
  }

  get learningRate(): number {
    return getLearningRate(this.inner);
  }

  set learningRate(lr: number) {
    setLearningRate(this.inner, lr);
  }

  /** The batch size the policy asks for (the start batch size when it has not changed it). */
  get batchSize(): number {
    return this.policy?.knobs.batchSize ?? 0;
  }

  /** The policy's state (JSON), for checkpoints. */
  get policyState(): unknown {
    return this.policy?.state ?? null;
  }

  /** The metric groups this optimizer samples (its options' plus those its policy reads). */
  get sampledGroups(): readonly SampledGroup[] {
    return this.groups;
  }

  override get iterations(): number {
    return this.inner.iterations;
  }

  /** Lets the sampled groups see the batches `model.fit` trains on. */
  attach(model: tf.LayersModel): this {
    this.capture?.uninstall();
    this.model = model;
    this.capture = new BatchCapture(model);
    this.engine = null;
    return this;
  }

  /**
   * Declares who reads `batchSize`: gradcond's trainer, or `dynamicBatches` for
   * `model.fitDataset`. `start` is the batch size the source begins with; `policyState`
   * restores a checkpointed policy.
   */
  bindBatchSource(start: number, policyState?: unknown): void {
    this.batchSourceBound = true;
    this.policy?.restart({ learningRate: this.learningRate, batchSize: start }, policyState);
  }

  /** For hand-written loops: the (x, y) of the next `minimize` call. */
  setBatch(x: tf.Tensor, y: tf.Tensor): void {
    this.pendingBatch = { x, y };
  }

  /** The end of an epoch, as data (the trainer calls it; `callbacks()` does under `model.fit`). */
  endEpoch(e: Omit<EpochEvent, 'kind' | 'wallTime'>): void {
    this.epochSubject.next({ kind: 'epoch', wallTime: this.elapsed(), ...e });
  }

  /**
   * tfjs callbacks for `model.fit` / `fitDataset`: keep the epoch current (1-based) and publish
   * each epoch's end with its logs. The streams stay open across fits (until `dispose()`).
   */
  callbacks(): tf.CustomCallbackArgs {
    return {
      onEpochBegin: async (epoch) => void (this.epoch = epoch + 1),
      onEpochEnd: async (epoch, logs) => {
        const num = (k: string[]) => k.map((n) => logs?.[n]).find((v): v is number => typeof v === 'number') ?? null;
        this.endEpoch({
          epoch: epoch + 1, step: this.step,
          loss: num(['loss']), accuracy: num(['acc', 'accuracy']), valLoss: num(['val_loss']), valAccuracy: num(['val_acc', 'val_accuracy']),
        });
      },
    };
  }

  /** Completes the streams (no more training with this optimizer). `dispose()` does it too. */
  complete(): void {
    if (this.done) return;
    this.done = true;
    this.policySub?.unsubscribe();
    this.stepSubject.complete();
    this.metricSubject.complete();
    this.epochSubject.complete();
    this.policy?.complete();
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    if (this.done) throw new UsageError('this conditioned optimizer was disposed');
    if (this.policy?.writesBatchSize && !this.batchSourceBound) {
      throw new UsageError(
        `policy '${this.policy.name}' changes the batch size, which model.fit cannot follow: ` +
          'train with model.fitDataset(dynamicBatches(data, { optimizer }), …) or with gradcond train',
      );
    }
    const t0 = performance.now();
    this.startMs ??= t0;
    this.capture?.install();
    const due = this.scheduler.due(this.step, this.elapsed(), this.stepMsAvg);
    const { value, grads } = this.computeGradients(f, varList);
    const batch = this.pendingBatch ?? this.capture?.take() ?? null;
    this.pendingBatch = null;
    const names = varList ? varList.map((v) => v.name) : Object.keys(grads);
    const vars = names.map((n) => tf.engine().registeredVariables[n]);
    const full = this.fullStep(due);
    const before = full ? vars.map((v) => v.clone()) : null;
    const lr = this.learningRate;
    this.inner.applyGradients(varList ? names.map((name) => ({ name, tensor: grads[name] })) : grads);
    const measured = before ? this.stats.measure(value, names.map((n) => grads[n]), vars, before) : this.stats.lossOnly(value);
    const event: StepEvent = {
      step: this.step, epoch: this.epoch, wallTime: this.elapsed(), batchSize: batch?.x.shape[0] ?? 0, learningRate: lr,
      ...measured.event, stepMs: 0, ...(before ? {} : { partial: true }),
    };
    event.kappaWStep = measured.step ? (computeGroup('step', measured.step).kappaWStep?.value ?? null) : null;
    if (measured.nonFinite) {
      if (before) vars.forEach((v, i) => v.assign(before[i])); // undo: the weights stay those of step t
      tf.dispose(before ?? []);
      this.stepSubject.next({ ...event, stepMs: performance.now() - t0 });
      value.dispose();
      throw new NonFiniteStep(this.step, measured.nonFinite, lr);
    }
    tf.dispose(before ?? []);
    event.stepMs = performance.now() - t0;
    this.stepMsAvg = this.stepMsAvg === 0 ? event.stepMs : 0.9 * this.stepMsAvg + 0.1 * event.stepMs;
    this.stepSubject.next(event);
    this.sample(batch, event, names, due);
    this.step++;
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * Whether this step measures all its per-step numbers: every step by default; with
   * `stepMetrics: k`, the pair of steps k−1, k of every k (so kappaWStep has its previous step)
   * and every step a group that needs them samples (update, weight perturbation at step scale).
   */
  private fullStep(due: readonly SampledGroup[]): boolean {
    const k = this.options.stepMetrics ?? 1;
    if (k === 1 || this.step % k === 0 || this.step % k === k - 1) return true;
    return due.includes('update') || due.includes('weightPerturbation');
  }

  /** Runs the groups due at this step on the step's batch, at the updated weights. */
  private sample(batch: CapturedBatch | null, event: StepEvent, names: string[], due: SampledGroup[]): void {
    if (!due.length) return;
    const engine = this.engineFor();
    const reason = engine ? 'the batch of this step was not seen (call setBatch(x, y) in hand-written loops)' : this.engineReason;
    const measured = engine && batch ? this.measure(engine, batch, due, event, names) : null;
    for (const group of due) {
      const values = measured ? measured.values : {};
      const durationMs = measured?.durations[group] ?? 0;
      this.scheduler.record(group, this.step, durationMs);
      const { step, epoch, batchSize, learningRate } = event;
      const out: MetricSample = { step, epoch, wallTime: this.elapsed(), batchSize, learningRate, group, values: {}, reasons: {}, durationMs };
      for (const { name } of metricsOfGroup(group)) {
        const v = values[name] ?? { value: null, reason };
        out.values[name] = v.value;
        if (v.value === null) out.reasons[name] = v.reason!;
      }
      this.metricSubject.next(out);
    }
  }

  /** The due groups on the step's batch: one `measureBatch` call, so groups share their work. */
  private measure(engine: EngineContext, batch: CapturedBatch, groups: SampledGroup[], event: StepEvent, names: string[]): Measurement {
    const sampling = this.options.weightSampling ?? 'descent';
    const m = measureBatch(engine, batch.x, batch.y, groups, {
      weightSampling: { sampling, n: this.options.weightSamples ?? 2, seed: (this.options.seed ?? 0) + this.step, stepScale: event.updateNorm ?? undefined },
      inputDirections: this.options.inputDirections ?? 4,
      subBatches: this.options.subBatches ?? 4,
      step: groups.includes('update') ? this.stepContext(event, names) : undefined,
    });
    if (m.perExamplePath?.path === 'loop' && !this.loopNoted) {
      this.loopNoted = true;
      logger().warn(`per-example gradients by the exact loop, b passes per batch: ${m.perExamplePath.reason}`);
    }
    return m;
  }

  /** h̄_t, Δ_t and L_t in `model.trainableWeights` order, for the `update` group. */
  private stepContext(event: StepEvent, names: string[]): StepContext | undefined {
    const kept = this.stats.kept;
    const model = this.model!;
    if (!kept || event.loss === null) return undefined;
    const index = new Map(names.map((n, i) => [n, i]));
    const order = model.trainableWeights.map((w) => index.get((w.read() as tf.Variable).name));
    if (order.some((i) => i === undefined)) return undefined;
    const training = model.layers.some((l) => TRAINING_DEPENDENT.test(l.getClassName()));
    const compiled = typeof model.loss === 'string' ? model.loss : undefined;
    const sameLoss = this.options.loss === undefined || compiled === undefined || this.options.loss === compiled;
    const regularised = (model.losses as unknown[]).length > 0 || model.layers.some((l) => hasRegularizer(l));
    return {
      grads: order.map((i) => kept.grads[i!]),
      update: order.map((i) => kept.update[i!]),
      loss: event.loss,
      reusable: !training && sameLoss && !regularised,
    };
  }

  /** The engine context, built once the model is compiled (its loss known). */
  private engineFor(): EngineContext | null {
    if (this.engine || !this.model) return this.engine;
    const name = this.options.loss ?? (typeof this.model.loss === 'string' ? this.model.loss : undefined);
    if (!name) {
      this.engineReason = 'the per-example loss is unknown: pass {loss: NAME} to conditioned()';
      return null;
    }
    try {
      const loss = perExampleLoss(name);
      const mask = createMask(this.model.trainableWeights.map((w) => w.read().size), this.options.mask ?? 1, this.options.seed ?? 0);
      this.engine = { model: this.model, loss, mask, eta: this.options.eta ?? 1e-3 };
    } catch (err) {
      this.engineReason = (err as Error).message;
    }
    return this.engine;
  }

  private elapsed(): number {
    return this.startMs === null ? 0 : performance.now() - this.startMs;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.inner.applyGradients(variableGradients);
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.inner.getWeights();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    return this.inner.setWeights(weightValues);
  }

  override dispose(): void {
    this.complete();
    this.capture?.uninstall();
    this.stats.dispose();
    // tfjs' MomentumOptimizer.dispose leaves the −lr scalar its SGD base keeps (`c`): free it too.
    const c = (this.inner as unknown as { c?: tf.Tensor }).c;
    this.inner.dispose();
    if (c !== undefined && !c.isDisposed) c.dispose();
    super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { model: _model, ...opts } = this.options;
    return { inner: { className: this.inner.getClassName(), config: this.inner.getConfig() }, options: opts as tf.serialization.ConfigDict };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const inner = config.inner as { className: string; config: tf.serialization.ConfigDict };
    const innerCls = tf.serialization.SerializationMap.getMap().classNameMap[inner.className];
    if (!innerCls) throw new UsageError(`unknown optimizer class '${inner.className}'`);
    const optimizer = innerCls[1](innerCls[0], inner.config) as tf.Optimizer;
    return new cls(optimizer, config.options) as T;
  }
}
tf.serialization.registerClass(ConditionedOptimizer);

function hasRegularizer(layer: tf.layers.Layer): boolean {
  const c = layer.getConfig();
  return ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'depthwiseRegularizer', 'pointwiseRegularizer'].some((k) => c[k] != null);
}

function cadenceOf(options: ConditionedOptions): Cadence {
  if (options.every === undefined) return { kind: 'budget', fraction: options.budget ?? 0.05 };
  const every = typeof options.every === 'number' ? Object.fromEntries(groupsOf('full').map((g) => [g, options.every])) : options.every;
  return { kind: 'every', every: every as Partial<Record<SampledGroup, number>> };
}

/** Wraps `optimizer` (sgd, momentum, adam, rmsprop…) as a conditioned `tf.Optimizer`. */
export function conditioned(optimizer: tf.Optimizer, options: ConditionedOptions = {}): ConditionedOptimizer {
  return new ConditionedOptimizer(optimizer, options);
}
