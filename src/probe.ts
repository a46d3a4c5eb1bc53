/**
 * `gradcond probe`: every metric of a saved model on given batches, by the deterministic
 * protocol of docs/metrics.md, so that any correct implementation prints the same numbers.
 */
import { DataJsonSchema, nestedNumbers } from './data/jsonData.js';
import { readDataFile } from './data/files.js';
import { tf } from './backend/tf.js';
import { createMask } from './engine/mask.js';
import { measureBatch } from './engine/measure.js';
import { LOSS_NAMES, type PerExampleLoss, perExampleLoss } from './engine/losses.js';
import { UsageError } from './errors.js';
import { METRICS, type MetricName } from './metrics/registry.js';
import { WEIGHT_SAMPLINGS, type WeightSampling } from './engine/context.js';
import { fraction, intAtLeast, integer, oneOf, parseOptions, positiveInt, positiveNumber } from './validation.js';
import { z } from 'zod';

export interface ProbeBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface ProbeData {
  loss?: string;
  batches: ProbeBatch[];
}

/**
 * A batch's nested array as a float32 tensor. The same rules as a data.json data set: finite
 * float32 numbers only (NaN written as text, 1e39 and the like are refused), rectangular, at
 * most MAX_NESTING levels deep.
 */
function tensorOf(values: unknown[], what: string): tf.Tensor {
  const { values: flat, shape } = nestedNumbers(values, what);
  return tf.tensor(flat, shape, 'float32');
}

/** Reads and validates data.json; tensors are the caller's to dispose. */
export function readProbeData(path: string): ProbeData {
  const { raw: bytes } = readDataFile(path, 'data file');
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError(`${path}: malformed JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = DataJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${path}: ${issue.path.join('.') || 'top level'}: ${issue.message} (expected {"loss"?, "batches": [{"x": [...], "y": [...]}, ...]})`);
  }
  const batches: ProbeBatch[] = [];
  try {
    parsed.data.batches.forEach((b, i) => {
      const x = tensorOf(b.x, `batch ${i} x`);
      batches.push({ x, y: tensorOf(b.y, `batch ${i} y`) });
      if (b.x.length !== b.y.length) throw new UsageError(`batch ${i}: ${b.x.length} inputs but ${b.y.length} targets`);
    });
  } catch (err) {
    for (const b of batches) tf.dispose([b.x, b.y]);
    throw err;
  }
  return { loss: parsed.data.loss, batches };
}

/** The number of entries of `t` that are not finite, and the first one's flat index. */
function nonFinite(t: tf.Tensor): { count: number; first: number } {
  const v = t.dataSync();
  let count = 0;
  let first = -1;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count, first };
}

/**
 * A UsageError naming what is not finite — a weight, an input, or the loss the model computes
 * from finite weights and inputs (float32 overflow) — so that no metric is reported null with a
 * misleading reason (such as zero gradients) when the model or its input is broken.
 */
function checkFinite(model: tf.LayersModel, loss: PerExampleLoss, batches: ProbeBatch[]): void {
  for (const w of model.weights) {
    const bad = nonFinite(w.read());
    if (bad.count > 0) throw new UsageError(`weight '${w.originalName}' has ${bad.count} non-finite values (NaN or ±Infinity): no metric is defined`);
  }
  batches.forEach((b, i) => {
    const x = nonFinite(b.x);
    if (x.count > 0) throw new UsageError(`batch ${i} x: ${x.count} non-finite values (NaN or ±Infinity), the first in example ${Math.floor(x.first / (b.x.size / b.x.shape[0]!))}`);
    const l = tf.tidy(() => loss(b.y, model.predict(b.x) as tf.Tensor));
    try {
      const bad = nonFinite(l);
      if (bad.count > 0) {
        throw new UsageError(`batch ${i}: the model's loss is not finite on ${bad.count} of ${l.size} examples (the first: example ${bad.first}) although its weights and inputs are: they overflow float32, so no metric is defined`);
      }
    } finally {
      l.dispose();
    }
  });
}

function checkShapes(model: tf.LayersModel, batches: ProbeBatch[]): void {
  const expected = model.inputs[0].shape.slice(1);
  batches.forEach((b, i) => {
    const got = b.x.shape.slice(1);
    if (got.length !== expected.length || got.some((d, k) => expected[k] !== null && expected[k] !== d)) {
      throw new UsageError(`batch ${i}: examples of shape [${got}] do not fit the model's input [${expected.map((d) => d ?? '?')}]`);
    }
  });
}

function checkTargets(model: tf.LayersModel, lossName: string, batches: ProbeBatch[]): void {
  const out = model.outputs[0].shape.slice(1);
  batches.forEach((b, i) => {
    const got = b.y.shape.slice(1);
    if (lossName === 'sparseCategoricalCrossentropy') {
      const ok = got.length === 0 || (got.length === 1 && got[0] === 1);
      if (!ok) throw new UsageError(`batch ${i}: sparseCategoricalCrossentropy needs one class index per example, got targets of shape [${got}]`);
      const classes = out[out.length - 1] as number;
      if (!b.y.dataSync().every((c) => Number.isInteger(c) && c >= 0 && c < classes)) {
        throw new UsageError(`batch ${i}: class indices must be integers in [0, ${classes - 1}]`);
      }
    } else if (got.length !== out.length || got.some((d, k) => out[k] !== d)) {
      throw new UsageError(`batch ${i}: targets of shape [${got}] do not fit the model's output [${out}]`);
    }
  });
}

export interface ProbeOptions {
  loss?: string;
  /** η; with `descent` directions, the step scale s. */
  eta: number;
  /** kappaX, per-example and descent directions: the first min(b, n) examples. */
  n: number;
  mask: number;
  seed: number;
  /** Weight-perturbation directions (default 'gradient', the protocol's). */
  directions?: WeightSampling;
  /**
   * The most examples of a batch the probe uses (default PROBE_MAX_EXAMPLES): a larger batch is
   * cut to its first `maxExamples` examples, and the result says so (`subsampled`).
   */
  maxExamples?: number;
  /**
   * The stated approximation for large batches: the Gram-based metrics (stableRankX, rankX,
   * stableRankW, rankW, coherence, noiseScale) as means over disjoint random sub-batches of this
   * many examples, with standard errors; each estimates the metric at that batch size.
   */
  gramSubset?: number;
  /** Told, in a line, what the probe is about to do and when it is done (long work). */
  onProgress?: (line: string) => void;
}

/**
 * The default bound on a batch's examples. The per-example work grows faster than the square of
 * the batch size (a b × b Gram matrix and its spectrum): on a 784-8-10 MLP, one core measured
 * about 1 s of CPU at 256 examples, 6 s at 1,024 and 20 s at 2,048 per probe.
 */
export const PROBE_MAX_EXAMPLES = 1024;

const ProbeOptionsSchema = z
  .object({
    loss: z.string().optional(),
    eta: positiveNumber('eta'),
    n: positiveInt('n'),
    mask: fraction('mask'),
    seed: integer('seed'),
    directions: oneOf('directions', WEIGHT_SAMPLINGS).optional(),
    maxExamples: positiveInt('maxExamples').optional(),
    gramSubset: intAtLeast('gramSubset', 2).optional(),
    onProgress: z.custom<(line: string) => void>((v) => typeof v === 'function', { error: 'onProgress must be a function' }).optional(),
  })
  .strict();

/**
 * The metrics of the probe's protocol: everything but the numbers that need optimizer steps
 * (kappaWStep, the update group) and the noise scale's two parts.
 */
export const PROBE_METRICS: readonly MetricName[] = [
  'kappaW', 'cosSimW', 'diversityW', 'coherenceW', 'kappaX', 'stableRankX', 'rankX', 'stableRankW', 'rankW', 'confusion', 'diversity', 'coherence', 'noiseScale',
];

/** A batch the probe cut to its first `used` examples. */
export interface Subsample {
  batch: number;
  examples: number;
  used: number;
}

export interface ProbeResult {
  metrics: Record<string, number | null>;
  reasons: Record<string, string>;
  /** How the per-example gradients were computed (batched pass, or the exact loop and why). */
  perExamplePath?: { path: 'batched' | 'loop'; reason?: string };
  /** Batches cut to `maxExamples` examples (empty when none was). */
  subsampled: Subsample[];
  /** With `gramSubset` below the batch size: the sub-batches and every Gram-based metric's standard error. */
  gramSubset?: { size: number; parts: number; standardErrors: Record<string, number | null> };
}

/** The batches of more than `max` examples, which the probe cuts to their first `max`. */
export function subsamplesOf(batches: readonly ProbeBatch[], max: number): Subsample[] {
  return batches.flatMap((b, batch) => (b.x.shape[0]! > max ? [{ batch, examples: b.x.shape[0]!, used: max }] : []));
}

/** The batches with each cut to its first `max` examples; `made` holds the new tensors. */
function bounded(batches: ProbeBatch[], max: number): { batches: ProbeBatch[]; cut: Subsample[]; made: tf.Tensor[] } {
  const cut = subsamplesOf(batches, max);
  const made: tf.Tensor[] = [];
  const out = batches.map((b, batch) => {
    if (!cut.some((c) => c.batch === batch)) return b;
    const x = b.x.slice(0, max);
    const y = b.y.slice(0, max);
    made.push(x, y);
    return { x, y };
  });
  return { batches: out, cut, made };
}

/** The line that states a cut: which batches, how many examples each had, how many are used. */
export function subsampleLine(cut: readonly Subsample[]): string {
  const parts = cut.map((c) => `batch ${c.batch} has ${c.examples} examples`);
  return `${parts.join(', ')}: more than --max-examples ${cut[0]!.used}, so the first ${cut[0]!.used} of each are used (raise --max-examples to use more: the cost grows faster than the square of the batch size)`;
}

export function probe(model: tf.LayersModel, data: ProbeData, options: ProbeOptions): ProbeResult {
  const opts = parseOptions(ProbeOptionsSchema, options, 'probe()');
  const lossName = opts.loss ?? data.loss;
  if (!lossName) throw new UsageError(`no loss given: set "loss" in data.json or pass --loss (one of ${LOSS_NAMES.join(', ')})`);
  const loss = perExampleLoss(lossName);
  if (data.batches.length < 2) throw new UsageError(`confusion and diversity need at least 2 batches, data has ${data.batches.length}`);
  checkShapes(model, data.batches);
  checkTargets(model, lossName, data.batches);
  checkFinite(model, loss, data.batches);
  const mask = createMask(model.trainableWeights.map((w) => w.read().size), opts.mask, opts.seed);
  const { batches, cut, made } = bounded(data.batches, opts.maxExamples ?? PROBE_MAX_EXAMPLES);
  try {
    const [first, ...others] = batches;
    const sampling = opts.directions ?? 'gradient';
    const groups = [...new Set(PROBE_METRICS.map((n) => METRICS[n].group))];
    const sizes = [...new Set(batches.map((b) => b.x.shape[0]))].join(' or ');
    opts.onProgress?.(`measuring ${PROBE_METRICS.length} metrics on ${batches.length} batches of ${sizes} examples`);
    const t0 = performance.now();
    const m = measureBatch({ model, loss, mask, eta: opts.eta }, first!.x, first!.y, groups, {
      weightSampling: { sampling, n: opts.n, seed: opts.seed, stepScale: opts.eta },
      inputDirections: opts.n,
      otherBatches: others,
      ...(opts.gramSubset ? { gramSubset: { size: opts.gramSubset, seed: opts.seed } } : {}),
    });
    opts.onProgress?.(`measured in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const metrics: Record<string, number | null> = {};
    const reasons: Record<string, string> = {};
    for (const name of PROBE_METRICS) {
      const v = m.values[name];
      metrics[name] = v?.value ?? null;
      if (v && v.value === null) reasons[name] = v.reason;
    }
    return {
      metrics, reasons, subsampled: cut,
      ...(m.perExamplePath ? { perExamplePath: m.perExamplePath } : {}),
      ...(m.gramSubset ? { gramSubset: m.gramSubset } : {}),
    };
  } finally {
    tf.dispose(made);
  }
}
