/**
 * Measured costs for the time estimate (estimate.ts): a short run here of each distinct
 * configuration an experiment trains — the same model, data, batch size, optimizer, loss and
 * metric options — first with no metrics, then with every metric group its runs sample turned on
 * at every step. The median wall time between steps of the first, the median duration of each
 * group's samples in the second (warm-up left out), and the time to load the data, build the
 * model and evaluate the validation and test splits are what a real run of that configuration
 * will spend per step, per sample and once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { tf } from '../backend/tf.js';
import { loadData, type LoadedData } from '../data/registry.js';
import { buildModel } from '../models/zoo.js';
import { loadModel } from '../models/io.js';
import type { SampledGroup } from '../metrics/registry.js';
import { groupsOf, type ConditionedOptions } from '../optimizer/options.js';
import type { OptimizerName } from '../optimizer/optimizers.js';
import { readTrace } from '../trace/index.js';
import { evaluate } from '../trainer/evaluate.js';
import { train } from '../trainer/train.js';
import type { TrainOptions } from '../trainer/options.js';
import type { RunSpec } from '../compare/runSpec.js';
import { getPolicy } from '../../policies/index.js';

/** Steps of the calibration run without metrics (the first two gaps between steps are left out: warm-up). */
export const PLAIN_STEPS = 10;
/** Steps of the calibration run sampling every group at every step (the first sample is left out). */
export const CALIBRATION_STEPS = 3;

/** What one configuration costs here, in milliseconds. */
export interface Calibration {
  key: string;
  /** One example run of the configuration (for messages). */
  example: string;
  /** Wall time of one step of the training loop with no metrics (median gap between consecutive steps). */
  stepMs: number;
  /** Per sampled group: one sample's duration. */
  groupMs: Partial<Record<SampledGroup, number>>;
  /** Loading the data and building the model (every run does both). */
  setupMs: number;
  validationMs: number;
  testMs: number;
  trainSize: number;
}

/** The metric options that change a configuration's cost per sample (not its cadence or groups). */
function costOptions(metrics: Record<string, unknown>): Record<string, unknown> {
  const { groups: _g, every: _e, budget: _b, ...rest } = metrics;
  return rest;
}

/** Runs of one configuration share this key. */
export function configKey(spec: RunSpec): string {
  return JSON.stringify({ model: spec.model, data: spec.data, batchSize: spec.batchSize, optimizer: spec.optimizer, loss: spec.loss, metrics: costOptions(spec.metrics) });
}

/** The groups a run samples: its options' groups (or the keys of a per-group cadence) and those its policy reads. */
export function sampledGroups(spec: RunSpec): SampledGroup[] {
  const m = spec.metrics as ConditionedOptions;
  const own = typeof m.every === 'object' ? (Object.keys(m.every) as SampledGroup[]) : groupsOf(m.groups);
  const reads = spec.policy.name.split('+').flatMap((p) => getPolicy(p.trim()).reads);
  return [...new Set([...own, ...reads])];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

/** Times `f` in milliseconds. */
function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

/** Data sets loaded once per calibration session (several configurations share one), with their load time. */
export type DataCache = Map<string, { data: LoadedData; loadMs: number }>;

function cachedData(spec: RunSpec, cache: DataCache): { data: LoadedData; loadMs: number } {
  const key = JSON.stringify(spec.data);
  let entry = cache.get(key);
  if (!entry) {
    const [data, loadMs] = timed(() => loadData(spec.data));
    cache.set(key, (entry = { data, loadMs }));
  }
  return entry;
}

/** Trains `model` for `steps` steps into `dir` with the given metric options; returns the trace. */
async function shortRun(model: tf.LayersModel, data: LoadedData, spec: RunSpec, dir: string, steps: number, metrics: Record<string, unknown>) {
  await train(model, data.train, {
    steps, batchSize: spec.batchSize, learningRate: spec.learningRate, optimizer: spec.optimizer as OptimizerName,
    loss: spec.loss, seed: spec.seed, runDir: dir, overwrite: true, metrics: metrics as TrainOptions['metrics'],
  });
  return readTrace(dir);
}

/** Changes whenever how a configuration is measured changes: older cached measurements are not reused. */
export const CALIBRATION_METHOD = 2;

/** Steps of the warm-up run: a fresh process runs its first few dozen steps several times slower (V8 compiles the loop). */
export const WARM_UP_STEPS = 60;

/**
 * Trains a tiny network for WARM_UP_STEPS steps and throws it away, so that the first
 * configuration measured is not charged for the JavaScript engine's warm-up: the workers run
 * many steps and many runs per process, warm.
 */
export async function warmUp(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-warm-up-'));
  const data = loadData({ name: 'synthetic', examples: 64, valExamples: 0, testExamples: 0, inputShape: [8], classes: 3 });
  const model = buildModel('mlp', { depth: 1, width: 8, inputShape: [8], classes: 3, seed: 0 });
  try {
    await train(model, data.train, { steps: WARM_UP_STEPS, batchSize: 16, learningRate: 0.01, runDir: dir, overwrite: true, metrics: { groups: [] } });
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Measures one configuration (see the module comment): a run with no metrics gives the wall time
 * of a step of the training loop (what a run spends per step besides metrics: the step, its
 * statistics, the trace line); a run sampling `groups` at every step gives each group's time.
 */
export async function calibrate(spec: RunSpec, groups: readonly SampledGroup[], cache: DataCache = new Map()): Promise<Omit<Calibration, 'key' | 'example'>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-calibration-'));
  const { data, loadMs } = cachedData(spec, cache);
  const t0 = performance.now();
  const model = 'path' in spec.model
    ? await loadModel(spec.model.path)
    : buildModel(spec.model.zoo, { ...spec.model.options, inputShape: data.train.inputShape, classes: data.train.classes, seed: spec.seed });
  const setupMs = loadMs + performance.now() - t0;
  try {
    const plain = await shortRun(model, data, spec, dir, PLAIN_STEPS, { ...costOptions(spec.metrics), groups: [] });
    const gaps = plain.steps.slice(2).map((s, i) => s.wallTime - plain.steps[i + 1]!.wallTime);
    const groupMs: Partial<Record<SampledGroup, number>> = {};
    if (groups.length) {
      const sampled = await shortRun(model, data, spec, dir, CALIBRATION_STEPS, { ...costOptions(spec.metrics), groups: [...groups], every: 1 });
      for (const g of groups) groupMs[g] = median(sampled.metrics.filter((m) => m.group === g).slice(1).map((m) => m.durationMs));
    }
    const [, validationMs] = data.validation ? timed(() => evaluate(model, data.validation!, spec.loss)) : [null, 0];
    const [, testMs] = data.test ? timed(() => evaluate(model, data.test!, spec.loss)) : [null, 0];
    return { stepMs: median(gaps), groupMs, setupMs, validationMs, testMs, trainSize: data.train.size };
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
