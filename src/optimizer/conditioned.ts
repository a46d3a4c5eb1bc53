/**
 * `conditioned(optimizer, options)`: a drop-in `tf.Optimizer` that wraps any tfjs optimizer,
 * updates the weights exactly as the wrapped one would, and measures gradient conditioning
 * while it trains:
 *   - every step, at no extra forward/backward pass: loss, ‖h̄‖, ‖θ‖, the update norm and
 *     kappaWStep (from consecutive steps), on `steps$`;
 *   - on sampling steps (a cadence per group, or an overhead budget): the step-consistency and
 *     batch-dissonance suites on the step's own batch, after the update, on `metrics$`.
 * The learning rate is state the wrapper owns (`learningRate`), settable between steps for every
 * wrapped optimizer kind.
 */
import { Observable, Subject } from 'rxjs';

import { tf } from '../backend/tf.js';
import { perExampleLoss, type PerExampleLoss } from '../engine/losses.js';
import { createMask, type Mask } from '../engine/mask.js';
import { type Measurement, measureBatch, type MetricValues } from '../engine/measure.js';
import type { EngineContext, WeightSampling } from '../engine/samples.js';
import { UsageError } from '../errors.js';
import { logger } from '../log.js';
import { type SampleGroup, SAMPLE_GROUPS, metricsOfGroup } from '../metrics/registry.js';
import { kappaWStep } from '../metrics/stepConsistency.js';
import type { MetricSample, StepEvent } from '../stream/types.js';
import { BatchCapture, type CapturedBatch } from './capture.js';
import { getLearningRate, setLearningRate } from './learningRate.js';
import { type Cadence, MetricScheduler } from './schedule.js';

/** A variable's name and value, as tfjs optimizers save their state. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** Groups sampled from a batch (everything but the free per-step numbers). */
export type SampledGroup = Exclude<SampleGroup, 'step'>;
export const SAMPLED_GROUPS = SAMPLE_GROUPS.filter((g): g is SampledGroup => g !== 'step');

/** Presets, cheapest first (after Cockpit's economy ⊂ business ⊂ full). */
export const PRESETS: Record<'none' | 'economy' | 'business' | 'full', SampledGroup[]> = {
  none: [],
  economy: ['weightPerturbation', 'perExample'],
  business: ['weightPerturbation', 'perExample', 'inputGradient', 'multiBatch'],
  full: [...SAMPLED_GROUPS],
};

export interface ConditionedOptions {
  /** The model being trained: needed to see the batch for the sampled groups. */
  model?: tf.LayersModel;
  /** Per-example loss name; defaults to the model's compiled loss when that is a name. */
  loss?: string;
  /** Sampled groups, or a preset name (default 'full'). */
  groups?: keyof typeof PRESETS | SampledGroup[];
  /** Sample every k steps (one k for all groups, or per group). Ignored when `budget` is set. */
  every?: number | Partial<Record<SampledGroup, number>>;
  /** Overhead budget: metrics may take at most this fraction of wall time (default 0.05). */
  budget?: number;
  /** Perturbation scale η (default 1e-3). */
  eta?: number;
  /** Mask fraction p (default 1 = no mask), seeded by `seed`. */
  mask?: number;
  seed?: number;
  /** Weight directions (default 'per-example': 'gradient' gives ≈ 1, ½, 1 by construction). */
  weightSampling?: WeightSampling;
  /** n for per-example / random weight directions (default 2). */
  weightSamples?: number;
  /** kappaX: directions from the first min(b, n) examples (default 4). */
  inputDirections?: number;
  /** confusion/diversity: the batch is split into this many sub-batches (default 4). */
  subBatches?: number;
  /** The first step's number (a resumed run continues its count, cadence and seeds). */
  startStep?: number;
}

interface PrevStep {
  /** h̄_t, one tensor per variable. */
  grads: tf.Tensor[];
  /** Δ_t = θ_{t+1} − θ_t, one tensor per variable. */
  update: tf.Tensor[];
  gradNorm: number;
  paramNorm: number;
  updateNorm: number;
}

export class ConditionedOptimizer extends tf.Optimizer {
  static className = 'ConditionedOptimizer';
  readonly steps$: Observable<StepEvent>;
  readonly metrics$: Observable<MetricSample>;
  /** Epoch stamped on events; `callbacks()` or the trainer keeps it current. */
  epoch = 0;

  private readonly stepSubject = new Subject<StepEvent>();
  private readonly metricSubject = new Subject<MetricSample>();
  private readonly scheduler: MetricScheduler;
  private readonly groups: SampledGroup[];
  private capture: BatchCapture | null = null;
  private model: tf.LayersModel | null = null;
  private engine: EngineContext | null = null;
  private engineReason = 'no model attached: pass {model} to conditioned() or call attach(model)';
  private pendingBatch: CapturedBatch | null = null;
  private prev: PrevStep | null = null;
  private step = 0;
  private startMs: number | null = null;
  private stepMsAvg = 0;
  private done = false;
  private loopNoted = false;

  constructor(
    readonly inner: tf.Optimizer,
    readonly options: ConditionedOptions = {},
  ) {
    super();
    getLearningRate(inner); // fail early for optimizers without a learning rate
    this.groups = typeof options.groups === 'string' || options.groups === undefined ? PRESETS[options.groups ?? 'full'] : options.groups;
    if (!this.groups) throw new UsageError(`unknown metric preset '${options.groups}': choose ${Object.keys(PRESETS).join(', ')}`);
    this.scheduler = new MetricScheduler(this.groups, cadenceOf(options));
    this.step = options.startStep ?? 0;
    this.steps$ = this.stepSubject.asObservable();
    this.metrics$ = this.metricSubject.asObservable();
    if (options.model) this.attach(options.model);
  }

  get learningRate(): number {
    return getLearningRate(this.inner);
  }

  set learningRate(lr: number) {
    setLearningRate(this.inner, lr);
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

  /** For hand-written loops: the (x, y) of the next `minimize` call. */
  setBatch(x: tf.Tensor, y: tf.Tensor): void {
    this.pendingBatch = { x, y };
  }

  /** tfjs callbacks for `model.fit`: keep the epoch current and complete the streams at the end. */
  callbacks(): tf.CustomCallbackArgs {
    return {
      onEpochBegin: async (epoch) => void (this.epoch = epoch),
      onTrainEnd: async () => this.complete(),
    };
  }

  /** Completes `steps$` and `metrics$` (training has ended). */
  complete(): void {
    if (this.done) return;
    this.done = true;
    this.stepSubject.complete();
    this.metricSubject.complete();
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const t0 = performance.now();
    this.startMs ??= t0;
    this.capture?.install();
    const { value, grads } = this.computeGradients(f, varList);
    const batch = this.pendingBatch ?? this.capture?.take() ?? null;
    this.pendingBatch = null;
    const names = varList ? varList.map((v) => v.name) : Object.keys(grads);
    const vars = names.map((n) => tf.engine().registeredVariables[n]);
    const before = vars.map((v) => v.clone());
    const lr = this.learningRate;
    this.inner.applyGradients(varList ? names.map((name) => ({ name, tensor: grads[name] })) : grads);
    const event = this.stepStats(value, names.map((n) => grads[n]), vars, before, lr, batch);
    tf.dispose(before); // the gradients live on in this.prev until the next step
    const stepMs = performance.now() - t0;
    this.stepMsAvg = this.stepMsAvg === 0 ? stepMs : 0.9 * this.stepMsAvg + 0.1 * stepMs;
    this.stepSubject.next({ ...event, stepMs });
    this.sample(batch, event);
    this.step++;
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * The free per-step numbers, read back in one transfer. The step's gradients are kept (not
   * copied) until the next step, for ‖h̄_{t+1} − h̄_t‖.
   */
  private stepStats(value: tf.Scalar, grads: tf.Tensor[], vars: tf.Variable[], before: tf.Tensor[], lr: number, batch: CapturedBatch | null): Omit<StepEvent, 'stepMs'> {
    const prev = this.prev;
    const update = tf.tidy(() => vars.map((v, i) => tf.keep(v.sub(before[i]))));
    const numbers = tf.tidy(() => {
      const sumSq = (ts: tf.Tensor[]) => tf.addN(ts.map((t) => t.square().sum()));
      const dot = (as: tf.Tensor[], bs: tf.Tensor[]) => tf.addN(as.map((t, i) => t.mul(bs[i]).sum()));
      // ‖a − b‖² with one fused elementwise kernel per variable (no cancellation).
      const distSq = (as: tf.Tensor[], bs: tf.Tensor[]) => tf.addN(as.map((t, i) => tf.squaredDifference(t, bs[i]).sum()));
      const none = () => tf.scalar(Number.NaN);
      return tf.stack([
        value,
        sumSq(grads),
        sumSq(before),
        sumSq(update),
        prev ? distSq(grads, prev.grads) : none(),
        prev ? dot(grads, prev.update) : none(),
      ]).dataSync();
    });
    const [loss, gradNormSq, paramNormSq, updateNormSq, diffNormSq, dotPrevUpdate] = numbers;
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    // Kept: they outlive this step's scope (model.fit runs each step inside tf.tidy).
    const now: PrevStep = { grads: grads.map((g) => tf.keep(g)), update, gradNorm: Math.sqrt(gradNormSq), paramNorm: Math.sqrt(paramNormSq), updateNorm: Math.sqrt(updateNormSq) };
    // ⟨h̄_t, h̄_{t−1}⟩ = (‖h̄_t‖² + ‖h̄_{t−1}‖² − ‖h̄_t − h̄_{t−1}‖²) / 2, in float64 on the host.
    const dotPrevGrad = prev ? (gradNormSq + prev.gradNorm ** 2 - diffNormSq) / 2 : Number.NaN;
    const kappa = prev
      ? kappaWStep({ gradDiffNorm: Math.sqrt(diffNormSq), gradNorm: prev.gradNorm, thetaNorm: prev.paramNorm, stepNorm: prev.updateNorm }).value
      : null;
    if (prev) tf.dispose([...prev.grads, ...prev.update]);
    this.prev = now;
    return {
      step: this.step,
      epoch: this.epoch,
      wallTime: performance.now() - this.startMs!,
      batchSize: batch?.x.shape[0] ?? 0,
      learningRate: lr,
      loss: finite(loss),
      gradNorm: finite(now.gradNorm),
      paramNorm: finite(now.paramNorm),
      updateNorm: finite(now.updateNorm),
      kappaWStep: kappa,
      gradDotPrevGrad: prev ? finite(dotPrevGrad) : null,
      gradDotPrevUpdate: prev ? finite(dotPrevUpdate) : null,
    };
  }

  /** Runs the groups due at this step on the step's batch, at the updated weights. */
  private sample(batch: CapturedBatch | null, event: Omit<StepEvent, 'stepMs'>): void {
    const due = this.scheduler.due(this.step, performance.now() - this.startMs!, this.stepMsAvg) as SampledGroup[];
    if (!due.length) return;
    const engine = this.engineFor();
    const reason = engine ? 'the batch of this step was not seen (call setBatch(x, y) in hand-written loops)' : this.engineReason;
    const measured = engine && batch ? this.measure(engine, batch, due) : null;
    for (const group of due) {
      const values = measured ? pickGroup(measured.values, group) : nulls(group, reason);
      const durationMs = measured?.durations[group] ?? 0;
      this.scheduler.record(group, this.step, durationMs);
      const out: MetricSample = { ...event, wallTime: performance.now() - this.startMs!, group, values: {}, reasons: {}, durationMs };
      for (const [name, v] of Object.entries(values)) {
        out.values[name] = v!.value;
        if (v!.value === null) out.reasons[name] = v!.reason;
      }
      this.metricSubject.next(out);
    }
  }

  /**
   * The due groups on the step's batch: one `measureBatch` call, so that groups due together
   * share the per-example pass; confusion and diversity on sub-batches of the batch.
   */
  private measure(engine: EngineContext, batch: CapturedBatch, groups: SampledGroup[]): Pick<Measurement, 'values' | 'durations'> {
    const opts = {
      weightSampling: { sampling: this.options.weightSampling ?? 'per-example', n: this.options.weightSamples ?? 2, seed: (this.options.seed ?? 0) + this.step },
      inputDirections: this.options.inputDirections ?? 4,
    };
    const m = measureBatch(engine, batch.x, batch.y, groups.filter((g) => g !== 'multiBatch'), opts);
    if (m.perExamplePath?.path === 'loop' && !this.loopNoted) {
      this.loopNoted = true;
      logger().warn(`per-example gradients by the exact loop, b passes per batch: ${m.perExamplePath.reason}`);
    }
    if (!groups.includes('multiBatch')) return m;
    const t0 = performance.now();
    const b = batch.x.shape[0];
    const k = Math.min(this.options.subBatches ?? 4, b);
    const size = Math.floor(b / k);
    if (k < 2) {
      Object.assign(m.values, nulls('multiBatch', `confusion and diversity need at least 2 sub-batches; the batch has ${b} example(s)`));
    } else {
      const parts = Array.from({ length: k }, (_, i) => ({ x: batch.x.slice(i * size, size), y: batch.y.slice(i * size, size) }));
      try {
        Object.assign(m.values, measureBatch(engine, parts[0].x, parts[0].y, ['multiBatch'], { ...opts, otherBatches: parts.slice(1) }).values);
      } finally {
        tf.dispose(parts.flatMap((p) => [p.x, p.y]));
      }
    }
    m.durations.multiBatch = performance.now() - t0;
    return m;
  }

  /** The engine context, built once the model is compiled (its loss known). */
  private engineFor(): EngineContext | null {
    if (this.engine || !this.model) return this.engine;
    let loss: PerExampleLoss;
    const name = this.options.loss ?? (typeof this.model.loss === 'string' ? this.model.loss : undefined);
    if (!name) {
      this.engineReason = 'the per-example loss is unknown: pass {loss: NAME} to conditioned()';
      return null;
    }
    try {
      loss = perExampleLoss(name);
    } catch (err) {
      this.engineReason = (err as Error).message;
      return null;
    }
    const mask: Mask | null = createMask(this.model.trainableWeights.map((w) => w.read().size), this.options.mask ?? 1, this.options.seed ?? 0);
    this.engine = { model: this.model, loss, mask, eta: this.options.eta ?? 1e-3 };
    return this.engine;
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
    if (this.prev) tf.dispose([...this.prev.grads, ...this.prev.update]);
    this.prev = null;
    this.inner.dispose();
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

/** The values of one group's metrics. */
function pickGroup(values: MetricValues, group: SampleGroup): MetricValues {
  return Object.fromEntries(metricsOfGroup(group).map((m) => [m.name, values[m.name]!]));
}

function nulls(group: SampleGroup, reason: string): MetricValues {
  return Object.fromEntries(metricsOfGroup(group).map((m) => [m.name, { value: null, reason }]));
}

function cadenceOf(options: ConditionedOptions): Cadence {
  if (options.budget !== undefined || options.every === undefined) {
    const fraction = options.budget ?? 0.05;
    if (!(fraction > 0 && fraction < 1)) throw new UsageError(`budget must be a fraction in (0, 1), got ${fraction}`);
    return { kind: 'budget', fraction };
  }
  const every = typeof options.every === 'number' ? Object.fromEntries(SAMPLED_GROUPS.map((g) => [g, options.every])) : options.every;
  return { kind: 'every', every: every as Partial<Record<SampleGroup, number>> };
}

/** Wraps `optimizer` (sgd, momentum, adam, rmsprop…) as a conditioned `tf.Optimizer`. */
export function conditioned(optimizer: tf.Optimizer, options: ConditionedOptions = {}): ConditionedOptimizer {
  return new ConditionedOptimizer(optimizer, options);
}
