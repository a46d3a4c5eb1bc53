/**
 * `fitness`: scores an architecture at initialisation (optionally after a few SGD steps) from
 * gradcond's metrics, cheaply enough to rank hundreds of candidates — a few training steps' worth
 * of passes each. The score is the rule's (rule.ts; higher = better candidate); every metric it
 * read comes with it. With `proxy`, a zero-cost proxy of the NAS literature is the score instead.
 *
 * A candidate that cannot be built or measured gets a null score with the reason; it never
 * throws for a bad candidate (only for bad options or data) and never returns NaN. A model
 * passed in is left exactly as it was (metrics restore batch-norm statistics, warm-up steps
 * are undone).
 */
import { tf } from '../backend/tf.js';
import type { Dataset } from '../data/dataset.js';
import { perExampleLoss } from '../engine/losses.js';
import { UsageError } from '../errors.js';
import type { MetricValue } from '../metrics/result.js';
import { computeProxy, PROXY_NAMES } from './proxies/index.js';
import { type ScoringBatch, disposeBatches, drawBatches } from './batches.js';
import { DEFAULT_RULE } from './defaultRule.js';
import { measureFitnessMetrics } from './metrics.js';
import { type FitnessRule, applyRule, ruleMetrics } from './rule.js';
import { snapshot, warmUp } from './warmup.js';

/** A model, or a function that builds one (called once; its model is disposed afterwards). */
export type ModelSource = tf.LayersModel | (() => tf.LayersModel | Promise<tf.LayersModel>);

export interface FitnessOptions {
  /** A tfjs loss name (default categoricalCrossentropy; targets are one-hot). */
  loss?: string;
  /** Examples per scoring batch (default 32). */
  batchSize?: number;
  /** Scoring batches, at least 2: confusion and diversity compare them (default 4). */
  batches?: number;
  /** Seeds which examples form the batches (default 0). */
  seed?: number;
  /** Plain SGD steps before measuring (default 0: at initialisation). */
  steps?: number;
  /** The warm-up steps' learning rate (default 0.05). */
  learningRate?: number;
  /** The scoring rule (default: the one fitted on gradcond's validation set, docs/fitness.md). */
  rule?: FitnessRule;
  /** Score by this zero-cost proxy instead of the rule (grad_norm, snip, synflow, jacov, naswot, params). */
  proxy?: string;
}

export interface FitnessResult {
  /** Higher = better candidate; null when it cannot be scored (see `reason`). */
  score: number | null;
  /** Why the score is null, or why the candidate failed the gate. */
  reason: string | null;
  /** Failed the trainability gate: dead at initialisation (gate.ts). */
  dead: boolean;
  /** Every metric the score read: a number, or null with its reason in `reasons`. */
  metrics: Record<string, number | null>;
  reasons: Record<string, string>;
  /** Wall time to build, warm up and measure, in milliseconds. */
  ms: number;
}

type Resolved = Required<Omit<FitnessOptions, 'proxy'>> & { proxy: string | null };

function resolve(opts: FitnessOptions): Resolved {
  const r: Resolved = {
    loss: opts.loss ?? 'categoricalCrossentropy', batchSize: opts.batchSize ?? 32, batches: opts.batches ?? 4, seed: opts.seed ?? 0,
    steps: opts.steps ?? 0, learningRate: opts.learningRate ?? 0.05, rule: opts.rule ?? DEFAULT_RULE, proxy: opts.proxy ?? null,
  };
  perExampleLoss(r.loss);
  if (r.loss === 'sparseCategoricalCrossentropy') throw new UsageError('fitness draws one-hot targets: use categoricalCrossentropy (the same loss on one-hot targets)');
  if (!(Number.isInteger(r.steps) && r.steps >= 0)) throw new UsageError(`steps must be a non-negative integer, got ${r.steps}`);
  if (!(r.learningRate > 0 && Number.isFinite(r.learningRate))) throw new UsageError(`learningRate must be a positive finite number, got ${r.learningRate}`);
  if (!(Number.isInteger(r.seed) && r.seed >= 0)) throw new UsageError(`seed must be a non-negative integer, got ${r.seed}`);
  if (r.proxy !== null && !PROXY_NAMES.includes(r.proxy as never)) throw new UsageError(`unknown proxy '${r.proxy}': choose one of ${PROXY_NAMES.join(', ')}`);
  return r;
}

/** The scoring batches for `data` under these options (the caller disposes them). */
export function scoringBatches(data: Dataset, opts: FitnessOptions = {}): ScoringBatch[] {
  const r = resolve(opts);
  return drawBatches(data, r.batchSize, r.batches, r.seed);
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

function split(values: Record<string, MetricValue>): Pick<FitnessResult, 'metrics' | 'reasons'> {
  const metrics: Record<string, number | null> = {};
  const reasons: Record<string, string> = {};
  for (const [name, v] of Object.entries(values)) {
    metrics[name] = v.value;
    if (v.value === null) reasons[name] = v.reason;
  }
  return { metrics, reasons };
}

const shapeText = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;

/** Why the model cannot take the batches, or null. */
function misfit(model: tf.LayersModel, batch: ScoringBatch): string | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; fitness scores models with one of each`;
  const input = model.inputs[0]!.shape.slice(1);
  const x = batch.x.shape.slice(1);
  if (input.length !== x.length || input.some((d, i) => d !== null && d !== x[i])) return `the model takes inputs ${shapeText(input)}, the data's examples are ${shapeText(x)}`;
  const output = model.outputs[0]!.shape.slice(1);
  const y = batch.y.shape.slice(1);
  if (output.length !== y.length || output.some((d, i) => d !== null && d !== y[i])) return `the model's output is ${shapeText(output)}, the data's targets are ${shapeText(y)}`;
  return null;
}

/** The score of a built model on drawn batches (nothing is disposed or left changed). */
function scoreModel(model: tf.LayersModel, data: Dataset, batches: ScoringBatch[], r: Resolved): Omit<FitnessResult, 'ms'> {
  const problem = misfit(model, batches[0]!);
  if (problem) return { score: null, reason: problem, dead: false, metrics: {}, reasons: {} };
  const loss = perExampleLoss(r.loss);
  if (r.steps > 0) warmUp(model, data, { steps: r.steps, learningRate: r.learningRate, batchSize: r.batchSize, loss, seed: r.seed, skip: r.batchSize * r.batches });
  if (r.proxy !== null) {
    const v = computeProxy(r.proxy, model, batches[0]!.x, batches[0]!.y, { loss: r.loss });
    return { score: v.value, reason: v.value === null ? v.reason : null, dead: false, ...split({ [r.proxy]: v }) };
  }
  const values = measureFitnessMetrics(model, batches, { loss, metrics: ruleMetrics(r.rule) });
  const s = applyRule(r.rule, values);
  return { score: s.score, reason: s.reason, dead: s.dead, ...split(values as Record<string, MetricValue>) };
}

/**
 * Scores one candidate on pre-drawn batches (the same for every candidate of a search). Errors
 * of the candidate itself (it cannot be built, the engine cannot run it) give a null score.
 */
export async function scoreCandidate(source: ModelSource, data: Dataset, batches: ScoringBatch[], opts: FitnessOptions = {}): Promise<FitnessResult> {
  const r = resolve(opts);
  const t0 = performance.now();
  const failed = (reason: string): FitnessResult => ({ score: null, reason, dead: false, metrics: {}, reasons: {}, ms: performance.now() - t0 });
  let model: tf.LayersModel;
  try {
    model = typeof source === 'function' ? await source() : source;
  } catch (err) {
    return failed(`cannot build the model: ${firstLine(err)}`);
  }
  const owned = typeof source === 'function';
  const restore = !owned && r.steps > 0 ? snapshot(model) : null;
  try {
    return { ...scoreModel(model, data, batches, r), ms: performance.now() - t0 };
  } catch (err) {
    if (err instanceof UsageError) return failed(firstLine(err));
    return failed(`cannot measure the model: ${firstLine(err)}`);
  } finally {
    restore?.();
    if (owned) model.dispose();
  }
}

/** Scores one architecture: `fitness(model | modelFactory, data, options)`. */
export async function fitness(source: ModelSource, data: Dataset, opts: FitnessOptions = {}): Promise<FitnessResult> {
  const batches = scoringBatches(data, opts);
  try {
    return await scoreCandidate(source, data, batches, opts);
  } finally {
    disposeBatches(batches);
  }
}

