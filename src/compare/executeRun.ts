/**
 * Executes one run spec in this process: builds the model (a zoo architecture from the spec's
 * seed, or a saved model), loads the data, trains under the spec's policy and budget into `dir`,
 * evaluates the test split, and writes test.json. A failure in the run itself (a bad spec, a
 * model gradcond cannot train) is written to failure.json; divergence is an outcome, not a
 * failure (the trace and summary say so).
 */
import * as path from 'node:path';
import { tf } from '../backend/tf.js';
import { loadData } from '../data/registry.js';
import { buildModel } from '../models/zoo.js';
import { loadModel } from '../models/io.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { evaluate } from '../trainer/evaluate.js';
import { train } from '../trainer/train.js';
import type { TrainOptions } from '../trainer/options.js';
import type { OptimizerName } from '../optimizer/optimizers.js';
import type { JsonValue } from '../trace/format.js';
import type { StepEvent } from '../stream/types.js';
import { FAILURE_FILE, TEST_FILE, type TestResult } from './outcome.js';
import type { Progress } from './pool.js';
import type { RunSpec } from './runSpec.js';
import { makeDirs } from '../trace/dirs.js';

export interface ExecuteOptions {
  resume?: boolean;
  /** Checkpoint cadence (default: the trainer's, every 60 s); a queue worker ships each checkpoint. */
  checkpointEvery?: number;
  checkpointSeconds?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

async function modelOf(spec: RunSpec, inputShape: number[], classes: number): Promise<tf.LayersModel> {
  if ('path' in spec.model) return loadModel(spec.model.path);
  return buildModel(spec.model.zoo, { ...spec.model.options, inputShape, classes, seed: spec.seed });
}

/** The budget as trainer options, and the fraction of it a step event has spent. */
function budgetOf(spec: RunSpec, dataSize: number) {
  const b = spec.budget;
  switch (b.kind) {
    case 'epochs':
      return { opts: { epochs: b.value }, fraction: (_e: StepEvent, examples: number) => examples / (b.value * dataSize) };
    case 'steps':
      return { opts: { steps: b.value }, fraction: (e: StepEvent) => (e.step + 1) / b.value };
    case 'examples':
      return { opts: { maxExamples: b.value }, fraction: (_e: StepEvent, examples: number) => examples / b.value };
    case 'seconds':
      return { opts: { maxSeconds: b.value }, fraction: (e: StepEvent) => e.wallTime / 1000 / b.value };
  }
}

export async function executeRun(spec: RunSpec, dir: string, opts: ExecuteOptions = {}): Promise<void> {
  makeDirs(dir, 'run directory');
  let model: tf.LayersModel | null = null;
  try {
    const data = loadData(spec.data);
    model = await modelOf(spec, data.train.inputShape, data.train.classes);
    const budget = budgetOf(spec, data.train.size);
    let examples = 0;
    await train(model, data.train, {
      ...budget.opts,
      policy: spec.policy.options === undefined ? spec.policy.name : { name: spec.policy.name, options: spec.policy.options },
      batchSize: spec.batchSize,
      learningRate: spec.learningRate,
      optimizer: spec.optimizer as OptimizerName,
      loss: spec.loss,
      validation: data.validation,
      validateEvery: spec.validateEvery,
      seed: spec.seed,
      metrics: spec.metrics as TrainOptions['metrics'],
      runDir: dir,
      resume: opts.resume ?? false,
      checkpointEvery: opts.checkpointEvery,
      checkpointSeconds: opts.checkpointSeconds,
      overwrite: !opts.resume,
      signal: opts.signal,
      config: { runSpec: spec, data: data.description } as unknown as JsonValue,
      onStep: (e: StepEvent) => {
        examples += e.batchSize;
        opts.onProgress?.({ id: spec.id, step: e.step, epoch: e.epoch, loss: e.loss, learningRate: e.learningRate, batchSize: e.batchSize, fraction: Math.min(1, budget.fraction(e, examples)) });
      },
    });
    const test: TestResult = data.test ? (({ loss, accuracy }) => ({ testLoss: loss, testAccuracy: accuracy }))(evaluate(model, data.test, spec.loss)) : { testLoss: null, testAccuracy: null };
    writeJsonAtomic(path.join(dir, TEST_FILE), test);
  } catch (err) {
    if ((err as Error).name === 'TrainingDiverged') return; // an outcome: the trace and summary record it
    writeJsonAtomic(path.join(dir, FAILURE_FILE), { message: (err as Error).message });
    throw err;
  } finally {
    model?.dispose();
  }
}
