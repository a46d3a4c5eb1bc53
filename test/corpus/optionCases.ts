/**
 * Bad option values, each given to the library where the option is given (conditioned(),
 * train(), dynamicBatches(), probe(), loadData(), buildModel(), useBackend(), the learning-rate
 * setter) and, where a flag sets it, to the command line: the one line is the same in both.
 * corpusOptions.test.ts runs every library call; corpusCli.test.ts runs the command lines marked
 * `runCli` (one or more per validation path, so the corpus stays quick).
 */
import { tf } from '../../src/backend/tf.js';
import { useBackend } from '../../src/backend/backend.js';
import type { Dataset } from '../../src/data/dataset.js';
import { dynamicBatches } from '../../src/data/dynamicBatches.js';
import { loadData } from '../../src/data/registry.js';
import { specFromFlags } from '../../src/data/spec.js';
import { buildModel } from '../../src/models/zoo.js';
import { conditioned } from '../../src/optimizer/conditioned.js';
import { probe, type ProbeOptions } from '../../src/probe.js';
import { train, type TrainOptions } from '../../src/trainer/train.js';

export interface LibContext {
  /** A fresh 4 → 5 → 3 model (disposed after the call). */
  model: () => tf.LayersModel;
  /** 16 examples of 4 features, 3 classes. */
  data: Dataset;
  /** Disposes `x` after the call: what a caller made, the caller frees. */
  track: <T extends { dispose(): void }>(x: T) => T;
}

export interface OptionCase {
  name: string;
  /** The command line after `gradcond`; null when no flag sets the option. */
  cli: string[] | null;
  /** Also run the command line as a child process. */
  runCli?: boolean;
  /** Library calls with the same value: each must be refused with `line`. */
  lib: ((c: LibContext) => unknown)[];
  /** The one line (after "gradcond: "), exit code 2. */
  line: string;
}

const GOOD: TrainOptions = { batchSize: 8, learningRate: 0.1, steps: 1, metrics: { groups: 'none' } };
const trainWith = (over: Record<string, unknown>) => (c: LibContext) => train(c.model(), c.data, { ...GOOD, ...over } as TrainOptions);
const metricsWith = (m: Record<string, unknown>) => trainWith({ metrics: m });
const wrapWith = (o: unknown) => (c: LibContext) => c.track(conditioned(c.track(tf.train.sgd(0.1)), o as never));
/** Sets the learning rate of a conditioned optimizer wrapping `make()`. */
const setRate = (make: () => tf.Optimizer, lr: number) => (c: LibContext) => void (c.track(conditioned(c.track(make()))).learningRate = lr);
const dynamicWith = (o: Record<string, unknown>) => async (c: LibContext) => {
  const it = await dynamicBatches(c.data, o as never).iterator();
  const r = await it.next();
  if (r.value) tf.dispose([r.value.xs, r.value.ys]);
};
const GOOD_PROBE: ProbeOptions = { eta: 1e-3, n: 4, mask: 1, seed: 0 };
const probeWith = (over: Record<string, unknown>) => (c: LibContext) => {
  const m = c.model();
  const batches = [0, 1].map(() => ({ x: tf.ones([4, 4]), y: tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3)) }));
  try {
    return probe(m, { loss: 'categoricalCrossentropy', batches }, { ...GOOD_PROBE, ...over } as ProbeOptions);
  } finally {
    batches.forEach((b) => tf.dispose([b.x, b.y]));
  }
};
const syntheticWith = (over: Record<string, unknown>) => () => loadData({ name: 'synthetic', ...over } as never);

const GROUPS = 'weightPerturbation, update, perExample, inputPerturbation, inputGradient, multiBatch';
const EVERY = (got: string) => `every must be a positive integer or {group: positive integer} (groups: ${GROUPS}), got ${got}`;
const POLICIES = 'constant, step, cosine, plateau, noise-scale, goodput, adascale, hypergradient, divebatch, cabs, adabatch, step-consistency-lr, batch-dissonance-batch, conditioned';

export const OPTION_CASES: OptionCase[] = [
  // train(): the learning rate, wherever it is given (the trainer, the optimizer's setter).
  { name: 'learning rate −1', cli: ['train', '--lr', '-1'], runCli: true, lib: [trainWith({ learningRate: -1 }), setRate(() => tf.train.sgd(0.1), -1)], line: 'learningRate (--lr) must be a positive finite number, got -1' },
  { name: 'learning rate 0', cli: ['train', '--lr', '0'], lib: [trainWith({ learningRate: 0 }), setRate(() => tf.train.adam(0.1), 0)], line: 'learningRate (--lr) must be a positive finite number, got 0' },
  { name: 'learning rate not a number', cli: ['train', '--lr', 'abc'], runCli: true, lib: [trainWith({ learningRate: Number.NaN }), setRate(() => tf.train.rmsprop(0.1), Number.NaN)], line: 'learningRate (--lr) must be a positive finite number, got NaN' },
  { name: 'learning rate Infinity', cli: ['train', '--lr', 'Infinity'], lib: [trainWith({ learningRate: Number.POSITIVE_INFINITY }), setRate(() => tf.train.momentum(0.1, 0.9), Number.POSITIVE_INFINITY)], line: 'learningRate (--lr) must be a positive finite number, got Infinity' },
  // Batch sizes: the trainer and dynamicBatches.
  { name: 'batch size 0', cli: ['train', '--batch-size', '0'], runCli: true, lib: [trainWith({ batchSize: 0 }), dynamicWith({ batchSize: 0, seed: 0 })], line: 'batchSize (--batch-size) must be a positive integer, got 0' },
  { name: 'batch size 2.5', cli: ['train', '--batch-size', '2.5'], lib: [trainWith({ batchSize: 2.5 }), dynamicWith({ batchSize: 2.5, seed: 0 })], line: 'batchSize (--batch-size) must be a positive integer, got 2.5' },
  { name: 'batch size given twice', cli: ['train', '--batch-size', '16', '--batch-size', '32'], runCli: true, lib: [trainWith({ batchSize: [16, 32] })], line: 'batchSize (--batch-size) must be a positive integer, got [16,32]' },
  { name: 'batch size getter returns 0', cli: null, lib: [dynamicWith({ batchSize: () => 0, seed: 0 })], line: 'dynamicBatches: batchSize() must return a positive integer, got 0' },
  // Length of a run.
  { name: 'epochs 0', cli: ['train', '--epochs', '0'], lib: [trainWith({ steps: undefined, epochs: 0 }), dynamicWith({ batchSize: 4, seed: 0, epochs: 0 })], line: 'epochs must be a positive integer, got 0' },
  { name: 'steps −3', cli: ['train', '--steps', '-3'], lib: [trainWith({ steps: -3 })], line: 'steps must be a positive integer, got -3' },
  { name: 'epochs and steps', cli: ['train', '--epochs', '1', '--steps', '2'], runCli: true, lib: [trainWith({ epochs: 1, steps: 2 })], line: 'give epochs or steps, not both' },
  // Metric sampling: conditioned() and train()'s metrics, and the flags.
  { name: 'every 0', cli: ['train', '--every', '0'], runCli: true, lib: [wrapWith({ every: 0 }), metricsWith({ every: 0 })], line: EVERY('0') },
  { name: 'every −1', cli: ['train', '--every', '-1'], lib: [wrapWith({ every: -1 }), metricsWith({ every: -1 })], line: EVERY('-1') },
  { name: 'every for an unknown group', cli: null, lib: [wrapWith({ every: { nope: 1 } }), metricsWith({ every: { nope: 1 } })], line: EVERY('{"nope":1}') },
  { name: 'budget 2', cli: ['train', '--budget', '2'], runCli: true, lib: [wrapWith({ budget: 2 }), metricsWith({ budget: 2 })], line: 'budget must be a fraction in (0, 1), got 2' },
  { name: 'budget 0', cli: ['train', '--budget', '0'], lib: [wrapWith({ budget: 0 }), metricsWith({ budget: 0 })], line: 'budget must be a fraction in (0, 1), got 0' },
  { name: 'budget and every', cli: ['train', '--budget', '0.1', '--every', '2'], lib: [wrapWith({ budget: 0.1, every: 2 }), metricsWith({ budget: 0.1, every: 2 })], line: 'give budget or every, not both' },
  {
    name: "groups 'toString'", cli: ['train', '--groups', 'toString'], runCli: true, lib: [wrapWith({ groups: 'toString' }), metricsWith({ groups: 'toString' })],
    line: `groups must be a preset (none, economy, business, full) or a list of groups (${GROUPS}), got "toString"`,
  },
  { name: 'groups: an unknown group in a list', cli: null, lib: [wrapWith({ groups: ['perExample', 'nope'] })], line: `groups must be a preset (none, economy, business, full) or a list of groups (${GROUPS}), got ["perExample","nope"]` },
  { name: 'unknown conditioned() option', cli: null, lib: [wrapWith({ evry: 2 })], line: "unknown option 'evry' for conditioned(): known options are model, loss, groups, every, budget, eta, mask, seed, weightSampling, weightSamples, inputDirections, subBatches, startStep, policy, stepMetrics" },
  { name: 'conditioned() options not an object', cli: null, lib: [wrapWith(5)], line: 'conditioned() options must be an object, got 5' },
  { name: 'conditioned() of something else', cli: null, lib: [(c) => c.track(conditioned({} as never))], line: 'conditioned() wraps a tf.Optimizer (e.g. tf.train.sgd(0.1))' },
  { name: 'conditioned() loss', cli: null, lib: [wrapWith({ loss: 'mse' })], line: 'loss must be one of categoricalCrossentropy, sparseCategoricalCrossentropy, meanSquaredError, got "mse"' },
  // η, the mask, the probe's own options.
  { name: 'eta −1', cli: ['probe', '--eta', '-1'], runCli: true, lib: [wrapWith({ eta: -1 }), metricsWith({ eta: -1 }), probeWith({ eta: -1 })], line: 'eta must be a positive finite number, got -1' },
  { name: 'eta 0', cli: ['probe', '--eta', '0'], lib: [wrapWith({ eta: 0 }), probeWith({ eta: 0 })], line: 'eta must be a positive finite number, got 0' },
  { name: 'mask 0', cli: ['probe', '--mask', '0'], runCli: true, lib: [wrapWith({ mask: 0 }), probeWith({ mask: 0 })], line: 'mask must be a fraction in (0, 1], got 0' },
  { name: 'mask 2', cli: ['probe', '--mask', '2'], lib: [wrapWith({ mask: 2 }), metricsWith({ mask: 2 }), probeWith({ mask: 2 })], line: 'mask must be a fraction in (0, 1], got 2' },
  { name: "mask 'half'", cli: null, lib: [wrapWith({ mask: 'half' })], line: 'mask must be a fraction in (0, 1], got "half"' },
  { name: 'n 0', cli: ['probe', '--n', '0'], lib: [probeWith({ n: 0 })], line: 'n must be a positive integer, got 0' },
  { name: 'max examples 0', cli: ['probe', '--max-examples', '0'], runCli: true, lib: [probeWith({ maxExamples: 0 })], line: 'maxExamples (--max-examples) must be a positive integer, got 0' },
  { name: "directions 'sideways'", cli: ['probe', '--directions', 'sideways'], runCli: true, lib: [probeWith({ directions: 'sideways' })], line: 'directions must be one of gradient, per-example, random, descent, got "sideways"' },
  { name: "loss 'nope'", cli: ['probe', '--loss', 'nope'], lib: [probeWith({ loss: 'nope' })], line: "unknown loss 'nope': choose one of categoricalCrossentropy, sparseCategoricalCrossentropy, meanSquaredError" },
  // Policies.
  { name: "policy 'nope'", cli: ['train', '--policy', 'nope'], runCli: true, lib: [trainWith({ policy: 'nope' }), wrapWith({ policy: 'nope' })], line: `unknown policy 'nope': choose one of ${POLICIES}` },
  {
    name: 'policy option out of range', cli: ['train', '--policy', 'plateau', '--policy-opt', 'patience=-1'], runCli: true,
    lib: [trainWith({ policy: { name: 'plateau', options: { patience: -1 } } }), wrapWith({ policy: { name: 'plateau', options: { patience: -1 } } })],
    line: "policy 'plateau': option 'patience' = -1: Too small: expected number to be >=0",
  },
  {
    name: 'unknown policy option', cli: ['train', '--policy', 'plateau', '--policy-opt', 'patiense=3'],
    lib: [trainWith({ policy: { name: 'plateau', options: { patiense: 3 } } })],
    line: "policy 'plateau': unknown option(s) patiense (known: monitor, factor, patience, minDelta, mode, cooldown, minLr)",
  },
  // Seeds, cadences, the run directory, the optimizer, logging.
  { name: 'seed 1.5', cli: ['train', '--seed', '1.5'], runCli: true, lib: [trainWith({ seed: 1.5 }), wrapWith({ seed: 1.5 }), dynamicWith({ batchSize: 4, seed: 1.5 }), syntheticWith({ seed: 1.5 })], line: 'seed must be an integer, got 1.5' },
  { name: 'checkpoint every 0', cli: ['train', '--checkpoint-every', '0'], lib: [trainWith({ checkpointEvery: 0 })], line: 'checkpointEvery (--checkpoint-every) must be a positive integer, got 0' },
  { name: 'checkpoint seconds −1', cli: ['train', '--checkpoint-seconds', '-1'], lib: [trainWith({ checkpointSeconds: -1 })], line: 'checkpointSeconds (--checkpoint-seconds) must be a positive finite number, got -1' },
  { name: 'validate every 0', cli: ['train', '--validate-every', '0'], lib: [trainWith({ validateEvery: 0 })], line: 'validateEvery (--validate-every) must be a positive integer, got 0' },
  { name: 'empty run directory name', cli: ['train', '--run-dir', ''], runCli: true, lib: [trainWith({ runDir: '' })], line: 'runDir (--run-dir) must be a non-empty string, got ""' },
  { name: 'resume and overwrite', cli: ['train', '--resume', '--overwrite'], runCli: true, lib: [trainWith({ runDir: 'x', resume: true, overwrite: true })], line: 'give resume or overwrite, not both' },
  { name: "optimizer 'sgdd'", cli: ['train', '--optimizer', 'sgdd'], runCli: true, lib: [trainWith({ optimizer: 'sgdd' })], line: 'optimizer must be one of sgd, momentum, adam, rmsprop, got "sgdd"' },
  { name: "log level 'loud'", cli: ['train', '--log-level', 'loud'], lib: [trainWith({ logLevel: 'loud' })], line: 'logLevel (--log-level) must be one of error, warn, info, debug, got "loud"' },
  // The backend.
  { name: 'threads 0', cli: ['train', '--threads', '0'], runCli: true, lib: [() => useBackend('wasm', { threads: 0 })], line: '--threads must be an integer from 1 to 8, got 0' },
  { name: "backend 'nope'", cli: ['train', '--backend', 'nope'], lib: [() => useBackend('nope' as never)], line: "unknown backend 'nope': choose one of auto, wasm, cpu, node, node-gpu" },
  // Data.
  { name: "data 'nope'", cli: ['train', '--data', 'nope'], runCli: true, lib: [() => loadData({ name: 'nope' } as never)], line: "unknown data 'nope': choose embedded, fashion-mnist, synthetic, csv, json" },
  { name: 'examples −5', cli: ['train', '--examples', '-5'], runCli: true, lib: [syntheticWith({ examples: -5 })], line: 'examples must be a positive integer, got -5' },
  { name: 'examples 1.5', cli: ['train', '--examples', '1.5'], lib: [syntheticWith({ examples: 1.5 })], line: 'examples must be a positive integer, got 1.5' },
  {
    name: 'examples 1e12', cli: ['train', '--examples', '1e12'], runCli: true, lib: [syntheticWith({ examples: 1e12, valExamples: 16 })],
    line: 'synthetic data: 1000000000000 training + 16 validation + 512 test examples of 784 values each is 7.84e+14 numbers, more than the 268,435,456 (1 GiB of float32) gradcond generates',
  },
  { name: 'validation examples −1', cli: ['train', '--val-examples', '-1'], lib: [syntheticWith({ valExamples: -1 })], line: 'valExamples (--val-examples) must be a non-negative integer, got -1' },
  { name: '--data-dir with csv', cli: ['train', '--data', 'csv', '--data-dir', '/tmp'], lib: [() => specFromFlags({ data: 'csv', dataDir: '/tmp', dataFile: 'x.csv' })], line: '--data-dir applies only to --data fashion-mnist' },
  // Models from the zoo.
  { name: "model 'nope'", cli: ['train', '--model', 'nope'], runCli: true, lib: [() => buildModel('nope', { inputShape: [4], classes: 3 })], line: "unknown model 'nope': choose one of mlp, cnn, fc-orthogonal, fc-crelu-ll, cnn-plain, resnet" },
  { name: 'width 0', cli: ['train', '--width', '0'], lib: [() => buildModel('mlp', { inputShape: [4], classes: 3, width: 0 })], line: 'width must be a positive integer, got 0' },
  { name: "activation 'nope'", cli: ['train', '--activation', 'nope'], lib: [() => buildModel('mlp', { inputShape: [4], classes: 3, activation: 'nope' as never })], line: 'activation must be one of relu, crelu, tanh, elu, selu, linear, got "nope"' },
  // Library-only options of train().
  { name: 'resume without a run directory', cli: null, lib: [trainWith({ resume: true })], line: 'resume needs a run directory (runDir, --run-dir)' },
  {
    name: 'unknown train() option', cli: null, lib: [trainWith({ nope: 1 })],
    line: "unknown option 'nope' for train(): known options are policy, epochs, steps, maxExamples, maxSeconds, batchSize, learningRate, optimizer, loss, validation, validateEvery, seed, metrics, runDir, checkpointEvery, checkpointSeconds, resume, overwrite, signal, stopOnDeadGradient, health, logLevel, console, config, onStep, onEpoch",
  },
  { name: 'train() options not an object', cli: null, lib: [(c) => train(c.model(), c.data, 5 as never)], line: 'train() options must be an object, got 5' },
  { name: 'metrics naming the model', cli: null, lib: [metricsWith({ model: 5 })], line: "unknown option 'model' for train() metrics: known options are groups, every, budget, eta, mask, seed, weightSampling, weightSamples, inputDirections, subBatches, stepMetrics" },
  { name: 'onStep not a function', cli: null, lib: [trainWith({ onStep: 5 })], line: 'onStep must be a function, got 5' },
  { name: 'signal not an AbortSignal', cli: null, lib: [trainWith({ signal: 5 })], line: 'signal must be an AbortSignal, got 5' },
  { name: 'health rule 0', cli: null, lib: [trainWith({ health: { deadSteps: 0 } })], line: 'health rule deadSteps must be a positive number, got 0' },
  { name: 'health not an object', cli: null, lib: [trainWith({ health: 5 })], line: 'health must be an object of rule overrides, got 5' },
  {
    name: 'sparse loss in the trainer', cli: null, lib: [trainWith({ loss: 'sparseCategoricalCrossentropy' })],
    line: 'loss sparseCategoricalCrossentropy needs class indices as targets, but the trainer gives one-hot rows: use categoricalCrossentropy, the same loss on one-hot rows',
  },
  { name: 'unknown dynamicBatches() option', cli: null, lib: [dynamicWith({ batchSize: 4, seed: 0, nope: 1 })], line: "unknown option 'nope' for dynamicBatches(): known options are batchSize, optimizer, seed, epochs" },
  { name: 'dynamicBatches() without a seed', cli: null, lib: [dynamicWith({ batchSize: 4 })], line: 'seed must be an integer, got nothing' },
];
