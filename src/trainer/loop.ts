/**
 * The training loop: plain, and owning nothing global. Each step takes the next examples of the
 * epoch's seeded permutation, runs `trainStep` and returns its StepEvent; everything the loop
 * observes (step events, metric samples, lifecycle events, health findings, policy decisions)
 * goes out on ONE stream, `records$`, in the order it happened, for the recorder to write.
 *
 * The run's policy runs inside the conditioned optimizer, on the optimizer's streams and on the
 * epoch ends the loop hands it (`endEpoch`); the optimizer's `learningRate` and `batchSize` are
 * the only knob state. Between steps the loop ends the epoch when the data is used up
 * (validation, an epoch event that also goes to the policy), checkpoints on its cadence (every
 * `checkpointEvery` steps, and every `checkpointSeconds`), and yields to Node's event loop so that
 * signal handlers run: an aborted run stops between steps with a checkpoint and a `stop` event.
 *
 * A step whose loss, gradient norm, parameter norm or update norm is not finite (the conditioned
 * optimizer refuses and undoes such a step) stops the run at once with TrainingDiverged, after a
 * 'diverged' health event and a `stop` event: no checkpoint is written after it, and checkpoints
 * refuse non-finite weights anyway, so the last one holds finite weights.
 *
 * Internal state counts epochs from 0 (`state.epoch`, as checkpoints always have); every record
 * carries the 1-based epoch.
 */
import { Subject, type Observable } from 'rxjs';
import { tf } from '../backend/tf.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { perExampleLoss, type PerExampleLoss } from '../engine/losses.js';
import type { ConditionedOptimizer } from '../optimizer/conditioned.js';
import { epochPermutation } from '../data/random.js';
import type { EpochEvent, LifecycleEvent, MetricSample, PolicyDecision, StepEvent } from '../stream/types.js';
import type { JsonValue, TraceRecord } from '../trace/format.js';
import type { LoopState } from './checkpoint.js';
import { DIVERGENCE_FIELDS, TrainingDiverged } from './errors.js';
import { evaluate } from './evaluate.js';
import { healthStep, initialHealth, type HealthRules, type HealthState } from './health.js';
import type { EpochSummary, StopCause } from './options.js';
import type { LoopStart } from './restore.js';
import { publishedBy, trainStep } from './step.js';

export interface LoopConfig {
  model: tf.LayersModel;
  data: Dataset;
  validation?: Dataset;
  /** Also validate every this many steps (a `validation` event), besides each epoch's end. */
  validateEvery?: number;
  /** Per-example loss name. */
  loss: string;
  seed: number;
  /**
   * When to end: after this many steps in all, or this many epochs; and, when given, once this
   * many examples were seen or the run's clock passed this many seconds.
   */
  until: ({ steps: number } | { epochs: number }) & { maxExamples?: number; maxSeconds?: number };
  /**
   * The conditioned optimizer, running the run's policy: its `learningRate` and `batchSize` are
   * the knobs (bound as the batch source, with the start knobs, before the loop starts).
   */
  optimizer: ConditionedOptimizer;
  health: HealthRules;
  stopOnDeadGradient: boolean;
  /** Milliseconds since the run started: the clock of every record. */
  clock: () => number;
  /** Saves the loop's state (with the model and optimizer); absent: no checkpoints. */
  checkpoint?: (state: LoopState) => Promise<void>;
  checkpointEvery?: number;
  checkpointSeconds: number;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void | Promise<void>;
  onEpoch?: (event: EpochSummary) => void;
}

/** How a run that did not diverge ended. */
export interface LoopEnd {
  stopped: StopCause | null;
  /** The stop or end event's message. */
  message: string;
}

/** Lets Node run timers and signal handlers; measured at no noticeable cost per step. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The quantities of `e` that are not finite (null in the event), by name. */
function nonFiniteOf(e: StepEvent): string[] {
  // A partial step measured the loss only: its other fields are null because unmeasured.
  const fields = e.partial ? DIVERGENCE_FIELDS.filter(([k]) => k === 'loss') : DIVERGENCE_FIELDS;
  return fields.filter(([k]) => e[k] === null || !Number.isFinite(e[k])).map(([, name]) => name);
}

export class TrainingLoop {
  private readonly out = new Subject<TraceRecord>();
  /** Every record of the run, in order; completes when the loop ends. */
  readonly records$: Observable<TraceRecord> = this.out.asObservable();
  private readonly lossFn: PerExampleLoss;
  private readonly varList: tf.Variable[];
  private readonly s: Omit<LoopState, 'knobs' | 'policyState'>;
  private health: HealthState;
  private perm: Int32Array;
  /** wallTime of the wrapper's events → the run's clock. */
  private readonly wallOffset: number;
  private lastCheckpointMs = Date.now();
  private deadStop: string | null = null;

  constructor(
    private readonly cfg: LoopConfig,
    start: LoopStart,
  ) {
    this.lossFn = perExampleLoss(cfg.loss);
    this.varList = cfg.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { knobs: _k, policyState: _p, health, ...rest } = start;
    this.s = { ...rest };
    this.health = health ?? initialHealth();
    this.perm = epochPermutation(cfg.data.size, cfg.seed, this.s.epoch);
    this.wallOffset = cfg.clock();
  }

  /** Where the loop stands, for a checkpoint. */
  get state(): LoopState {
    const opt = this.cfg.optimizer;
    return { ...this.s, knobs: { learningRate: opt.learningRate, batchSize: opt.batchSize }, policyState: opt.policyState as JsonValue, health: this.health };
  }

  /** Steps done and 0-based epoch in progress (= epochs completed). */
  get progress(): { step: number; epoch: number; position: number } {
    return { step: this.s.step, epoch: this.s.epoch, position: this.s.position };
  }

  private emit(r: TraceRecord): void {
    this.out.next(r);
  }

  /** A lifecycle event at the current step, in the epoch in progress unless `e.epoch` says otherwise. */
  private event(e: Omit<LifecycleEvent, 'wallTime' | 'step'>): void {
    this.emit({ type: 'event', wallTime: this.cfg.clock(), step: this.s.step, epoch: this.s.epoch + 1, ...e });
  }

  /** The epoch a stop or end belongs to: the one in progress, or the last one completed. */
  private lastEpoch(): number {
    return this.s.position > 0 || this.s.epoch === 0 ? this.s.epoch + 1 : this.s.epoch;
  }

  /**
   * One optimizer step on the next batch: returns its StepEvent, after recording it, its metric
   * samples, any health finding and the policy's decisions. Throws TrainingDiverged.
   */
  step(): StepEvent {
    const { data, optimizer } = this.cfg;
    const b = Math.min(optimizer.batchSize, data.size - this.s.position);
    const { x, y } = batchTensors(data, this.perm.subarray(this.s.position, this.s.position + b));
    optimizer.epoch = this.s.epoch + 1;
    let outcome;
    try {
      outcome = trainStep(optimizer, this.cfg.model, this.lossFn, x, y, this.varList);
    } finally {
      tf.dispose([x, y]);
    }
    const event = this.shift(outcome.event);
    this.emit({ type: 'step', ...event });
    for (const s of outcome.samples) this.emit({ type: 'metric', ...this.shift(s) });
    const bad = nonFiniteOf(event);
    if (outcome.refused && !bad.length) bad.push(outcome.refused.quantity);
    if (bad.length) this.diverged(event, bad);
    this.s.step++;
    this.s.position += b;
    this.s.lossSum += event.loss! * b;
    this.s.examples += b;
    if (this.s.correct !== undefined) this.s.correct += outcome.correct;
    this.checkHealth(event);
    this.recordDecisions(outcome.decisions);
    return event;
  }

  /** A record of the optimizer's clock on the run's clock. */
  private shift<T extends StepEvent | MetricSample | PolicyDecision>(e: T): T {
    return { ...e, wallTime: e.wallTime + this.wallOffset };
  }

  /**
   * Records the decisions that changed a knob (the optimizer has applied them). A decision is
   * recorded at the last step done, after which it takes effect, also when an epoch's end caused
   * it (the epoch event counts steps done, one more).
   */
  private recordDecisions(decisions: readonly PolicyDecision[]): void {
    for (const d of decisions) {
      if (d.before.learningRate === d.after.learningRate && d.before.batchSize === d.after.batchSize) continue;
      this.emit({ type: 'update', ...this.shift(d), step: Math.min(d.step, this.s.step - 1) });
    }
  }

  private diverged(event: StepEvent, quantities: string[]): never {
    const err = new TrainingDiverged(event.step, event.epoch, event.learningRate, quantities);
    this.event({ kind: 'health', finding: 'diverged', message: err.message });
    this.event({ kind: 'stop', message: err.message });
    throw err;
  }

  private checkHealth(event: StepEvent): void {
    const { findings, state } = healthStep(this.health, event, this.cfg.health);
    this.health = state;
    for (const f of findings) {
      this.emit({ type: 'event', kind: 'health', wallTime: this.cfg.clock(), step: f.step, epoch: event.epoch, finding: f.finding, message: f.message });
      if (f.finding === 'dead-gradient' && this.cfg.stopOnDeadGradient) this.deadStop = f.message;
    }
  }

  /** Mean training loss and accuracy of the current epoch so far; null before its first step. */
  private trainingNumbers(): Pick<EpochEvent, 'loss' | 'accuracy'> {
    const n = this.s.examples;
    return { loss: n ? this.s.lossSum / n : null, accuracy: n && this.s.correct !== undefined ? this.s.correct / n : null };
  }

  private validationNumbers(): Pick<EpochEvent, 'valLoss' | 'valAccuracy'> {
    if (!this.cfg.validation) return { valLoss: null, valAccuracy: null };
    const v = evaluate(this.cfg.model, this.cfg.validation, this.cfg.loss);
    return { valLoss: v.loss, valAccuracy: v.accuracy };
  }

  /** Validation, the epoch event (recorded, then fed to the policy), the next epoch's order. */
  private endEpoch(): void {
    const numbers = { ...this.trainingNumbers(), ...this.validationNumbers() };
    const e: EpochEvent = { kind: 'epoch', wallTime: this.cfg.clock(), step: this.s.step, epoch: this.s.epoch + 1, ...numbers, message: epochLine(this.s.epoch + 1, numbers) };
    this.emit({ type: 'event', ...e });
    const { kind: _k, wallTime: _w, message: _m, ...end } = e;
    this.recordDecisions(publishedBy(this.cfg.optimizer, () => this.cfg.optimizer.endEpoch(end)).decisions);
    this.cfg.onEpoch?.(e);
    Object.assign(this.s, { epoch: this.s.epoch + 1, position: 0, lossSum: 0, examples: 0, correct: 0 });
    this.perm = epochPermutation(this.cfg.data.size, this.cfg.seed, this.s.epoch);
  }

  private validationDue(): boolean {
    const every = this.cfg.validateEvery;
    return every !== undefined && this.cfg.validation !== undefined && this.s.step % every === 0;
  }

  /** A `validation` event: the validation loss and accuracy after `step` steps, mid-epoch. */
  private validate(): void {
    const numbers = this.validationNumbers();
    this.event({ kind: 'validation', ...numbers, message: `step ${this.s.step}: val_loss ${f4(numbers.valLoss)} val_acc ${f4(numbers.valAccuracy)}` });
  }

  private async checkpoint(): Promise<void> {
    if (!this.cfg.checkpoint) return;
    await this.cfg.checkpoint(this.state);
    this.lastCheckpointMs = Date.now();
  }

  private checkpointDue(): boolean {
    const every = this.cfg.checkpointEvery;
    return (every !== undefined && this.s.step % every === 0) || Date.now() - this.lastCheckpointMs >= this.cfg.checkpointSeconds * 1000;
  }

  /** Examples seen in all: every epoch visits each example once, so epochs × size + position. */
  private get examplesSeen(): number {
    return this.s.epoch * this.cfg.data.size + this.s.position;
  }

  private done(): boolean {
    const u = this.cfg.until;
    if (u.maxExamples !== undefined && this.examplesSeen >= u.maxExamples) return true;
    if (u.maxSeconds !== undefined && this.cfg.clock() >= u.maxSeconds * 1000) return true;
    return 'steps' in u ? this.s.step >= u.steps : this.s.epoch >= u.epochs;
  }

  /** Checkpoint, then a `stop` event with the partial epoch's training numbers. */
  private async stop(stopped: StopCause, message: string): Promise<LoopEnd> {
    await this.checkpoint();
    this.event({ kind: 'stop', epoch: this.lastEpoch(), message, ...this.trainingNumbers(), valLoss: null, valAccuracy: null });
    return { stopped, message };
  }

  /** Checkpoint, then the `end` event; a run ending mid-epoch also reports that epoch's numbers and validation. */
  private async finish(): Promise<LoopEnd> {
    const midEpoch = this.s.position > 0;
    const numbers = midEpoch ? { ...this.trainingNumbers(), ...this.validationNumbers() } : {};
    await this.checkpoint();
    const message = `done after ${this.s.step} steps${midEpoch ? ` (${epochLine(this.s.epoch + 1, numbers as EpochNumbers, 'partial epoch')})` : ''}`;
    this.event({ kind: 'end', epoch: this.lastEpoch(), message, ...numbers });
    return { stopped: null, message };
  }

  /**
   * Runs until the step or epoch count is reached, the signal aborts, or (with
   * stopOnDeadGradient) a dead gradient is found. `startMessage` goes on the `start` event.
   * Completes `records$` when it returns or throws.
   */
  async run(startMessage: string): Promise<LoopEnd> {
    try {
      this.event({ kind: 'start', message: startMessage });
      while (!this.done()) {
        if (this.cfg.signal?.aborted) return await this.stop('aborted', abortMessage(this.cfg.signal));
        const event = this.step();
        await this.cfg.onStep?.(event);
        if (this.s.position >= this.cfg.data.size) this.endEpoch();
        else if (this.validationDue()) this.validate();
        if (this.deadStop !== null) return await this.stop('dead-gradient', this.deadStop);
        if (this.checkpointDue()) await this.checkpoint();
        await yieldToEventLoop();
      }
      return await this.finish();
    } catch (err) {
      // Divergence recorded its own stop; anything else is recorded here, so the trace says why it ended.
      if (!(err instanceof TrainingDiverged)) this.event({ kind: 'stop', epoch: this.lastEpoch(), message: `failed: ${firstLine(err)}` });
      throw err;
    } finally {
      this.out.complete();
    }
  }
}

function firstLine(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  return (e.message || e.name).split('\n')[0]!.trim();
}

type EpochNumbers = Pick<EpochEvent, 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy'>;

const f4 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));

/** "epoch 3: loss 0.4123 acc 0.8400 val_loss 0.4500 val_acc 0.8200" (validation when there is one). */
export function epochLine(epoch: number, n: EpochNumbers, what = 'epoch'): string {
  const val = n.valLoss !== null || n.valAccuracy !== null ? ` val_loss ${f4(n.valLoss)} val_acc ${f4(n.valAccuracy)}` : '';
  return `${what} ${epoch}: loss ${f4(n.loss)} acc ${f4(n.accuracy)}${val}`;
}

function abortMessage(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string') return `aborted (${r})`;
  if (r instanceof Error && r.name !== 'AbortError') return `aborted (${r.message})`;
  return 'aborted';
}
