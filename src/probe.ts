/**
 * `gradcond probe`: every metric of a saved model on given batches, by the deterministic
 * protocol of docs/metrics.md, so that any correct implementation prints the same numbers.
 */
import { readFileSync, existsSync } from 'node:fs';
import { DataJsonSchema } from './data/jsonData.js';
import { tf } from './backend/tf.js';
import { createMask } from './engine/mask.js';
import { measureBatch } from './engine/measure.js';
import { LOSS_NAMES, perExampleLoss } from './engine/losses.js';
import { UsageError } from './errors.js';
import { METRICS, type MetricName } from './metrics/registry.js';
import { WEIGHT_SAMPLINGS, type WeightSampling } from './engine/context.js';


export interface ProbeBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface ProbeData {
  loss?: string;
  batches: ProbeBatch[];
}

/** The first element of a nested array that is not a finite number, if any. */
function firstNonNumber(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (const e of v) {
      const bad = firstNonNumber(e);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return typeof v === 'number' && Number.isFinite(v) ? undefined : v ?? String(v);
}

function tensorOf(values: unknown[], what: string): tf.Tensor {
  const bad = firstNonNumber(values);
  if (bad !== undefined) throw new UsageError(`${what}: ${JSON.stringify(bad)} is not a finite number`);
  try {
    return tf.tensor(values as number[], undefined, 'float32');
  } catch (err) {
    throw new UsageError(`${what}: not a rectangular array (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Reads and validates data.json; tensors are the caller's to dispose. */
export function readProbeData(path: string): ProbeData {
  if (!existsSync(path)) throw new UsageError(`data file not found: ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: malformed JSON (${(err as Error).message})`);
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
}

/**
 * The metrics of the probe's protocol: everything but the numbers that need optimizer steps
 * (kappaWStep, the update group) and the noise scale's two parts.
 */
export const PROBE_METRICS: readonly MetricName[] = [
  'kappaW', 'cosSimW', 'diversityW', 'coherenceW', 'kappaX', 'stableRankX', 'rankX', 'stableRankW', 'rankW', 'confusion', 'diversity', 'coherence', 'noiseScale',
];

export interface ProbeResult {
  metrics: Record<string, number | null>;
  reasons: Record<string, string>;
  /** How the per-example gradients were computed (batched pass, or the exact loop and why). */
  perExamplePath?: { path: 'batched' | 'loop'; reason?: string };
}

export function probe(model: tf.LayersModel, data: ProbeData, opts: ProbeOptions): ProbeResult {
  const lossName = opts.loss ?? data.loss;
  if (!lossName) throw new UsageError(`no loss given: set "loss" in data.json or pass --loss (one of ${LOSS_NAMES.join(', ')})`);
  const loss = perExampleLoss(lossName);
  if (data.batches.length < 2) throw new UsageError(`confusion and diversity need at least 2 batches, data has ${data.batches.length}`);
  if (!(opts.eta > 0 && Number.isFinite(opts.eta))) throw new UsageError(`--eta must be a positive number, got ${opts.eta}`);
  if (!(Number.isInteger(opts.n) && opts.n >= 1)) throw new UsageError(`--n must be a positive integer, got ${opts.n}`);
  checkShapes(model, data.batches);
  checkTargets(model, lossName, data.batches);
  const mask = createMask(model.trainableWeights.map((w) => w.read().size), opts.mask, opts.seed);
  const [first, ...others] = data.batches;
  const sampling = opts.directions ?? 'gradient';
  if (!WEIGHT_SAMPLINGS.includes(sampling)) throw new UsageError(`--directions must be one of ${WEIGHT_SAMPLINGS.join(', ')}, got ${sampling}`);
  const groups = [...new Set(PROBE_METRICS.map((n) => METRICS[n].group))];
  const m = measureBatch({ model, loss, mask, eta: opts.eta }, first.x, first.y, groups, {
    weightSampling: { sampling, n: opts.n, seed: opts.seed, stepScale: opts.eta },
    inputDirections: opts.n,
    otherBatches: others,
  });
  const metrics: Record<string, number | null> = {};
  const reasons: Record<string, string> = {};
  for (const name of PROBE_METRICS) {
    const v = m.values[name];
    metrics[name] = v?.value ?? null;
    if (v && v.value === null) reasons[name] = v.reason;
  }
  return { metrics, reasons, ...(m.perExamplePath ? { perExamplePath: m.perExamplePath } : {}) };
}
