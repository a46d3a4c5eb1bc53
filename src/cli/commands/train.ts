/**
 * `gradcond train`: train a model from the zoo through the trainer (src/trainer/train.ts), with
 * a policy, metric sampling, a traced run directory and checkpoints. With no arguments: an MLP
 * on the embedded synthetic data, 3 epochs, the loss per epoch on the console.
 *
 * Bad numbers are UsageErrors (one line, exit 2); a diverged run prints one line and exits 1.
 */
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { POLICY_NAMES } from '../../../policies/index.js';
import { useBackend } from '../../backend/backend.js';
import { loadData } from '../../data/registry.js';
import { UsageError } from '../../errors.js';
import { LOG_LEVELS } from '../../log.js';
import { buildModel, MODELS } from '../../models/zoo.js';
import { PRESETS } from '../../optimizer/conditioned.js';
import type { JsonValue } from '../../trace/format.js';
import { OPTIMIZERS, type OptimizerName } from '../../optimizer/optimizers.js';
import { train, TrainingDiverged } from '../../trainer/train.js';
import { backendOption } from '../options.js';

interface TrainArgs {
  model: string;
  data: string;
  examples: number;
  'val-examples': number;
  epochs?: number;
  steps?: number;
  'batch-size': number;
  lr: number;
  optimizer: string;
  policy: string;
  budget?: number;
  every?: number;
  groups: string;
  'run-dir'?: string;
  'checkpoint-every'?: number;
  resume: boolean;
  seed: number;
  'log-level': string;
  backend: string;
}

function positiveInt(flag: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
}

function checkArgs(a: TrainArgs): void {
  positiveInt('examples', a.examples);
  positiveInt('epochs', a.epochs);
  positiveInt('steps', a.steps);
  positiveInt('batch-size', a['batch-size']);
  positiveInt('checkpoint-every', a['checkpoint-every']);
  positiveInt('every', a.every);
  if (!(Number.isInteger(a['val-examples']) && a['val-examples'] >= 0)) throw new UsageError(`--val-examples must be a non-negative integer, got ${a['val-examples']}`);
  if (a.epochs !== undefined && a.steps !== undefined) throw new UsageError('give --epochs or --steps, not both');
  if (!(Number.isFinite(a.lr) && a.lr > 0)) throw new UsageError(`--lr must be a positive number, got ${a.lr}`);
  if (a.budget !== undefined && !(a.budget > 0 && a.budget < 1)) throw new UsageError(`--budget must be a fraction in (0, 1), got ${a.budget}`);
  if (a.budget !== undefined && a.every !== undefined) throw new UsageError('give --budget or --every, not both');
  if (!Number.isInteger(a.seed)) throw new UsageError(`--seed must be an integer, got ${a.seed}`);
  if (a.resume && a['run-dir'] === undefined) throw new UsageError('--resume needs --run-dir (the run to continue)');
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-').replace('T', '_').replace('Z', '');
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a model from the zoo under a policy, tracing the run (default: an MLP on embedded synthetic data)',
  builder: (y) =>
    y
      .option('model', { choices: Object.keys(MODELS), default: 'mlp', describe: 'model from the zoo' })
      .option('data', { choices: ['synthetic', 'fashion-mnist'], default: 'synthetic', describe: 'data set' })
      .option('examples', { type: 'number', default: 2048, describe: 'training examples to use' })
      .option('val-examples', { type: 'number', default: 512, describe: 'held-out examples evaluated after each epoch (0: none)' })
      .option('epochs', { type: 'number', describe: 'passes over the data (default 3; exclusive with --steps)' })
      .option('steps', { type: 'number', describe: 'optimizer steps in all (exclusive with --epochs)' })
      .option('batch-size', { type: 'number', default: 64, describe: 'initial batch size' })
      .option('lr', { type: 'number', default: 0.1, describe: 'initial learning rate' })
      .option('optimizer', { choices: Object.keys(OPTIMIZERS), default: 'sgd' })
      .option('policy', { type: 'string', default: 'constant', describe: `policy (${POLICY_NAMES.join(', ')}); 'a+b' composes` })
      .option('groups', { choices: Object.keys(PRESETS), default: 'full', describe: 'metric groups sampled' })
      .option('budget', { type: 'number', describe: 'metric overhead budget, a fraction of wall time (default 0.05)' })
      .option('every', { type: 'number', describe: 'sample the metric groups every k steps instead of a budget' })
      .option('run-dir', { type: 'string', describe: 'run directory (default: a new one under ./runs)' })
      .option('checkpoint-every', { type: 'number', describe: 'checkpoint every k steps (always at the end)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --run-dir from its checkpoint' })
      .option('seed', { type: 'number', default: 0 })
      .option('log-level', { choices: [...LOG_LEVELS], default: 'info' })
      .options(backendOption),
  handler: async (args) => {
    checkArgs(args);
    const backend = await useBackend(args.backend);
    const { train: data, validation } = loadData(args.data, args.examples, args.seed, args['val-examples']);
    const model = buildModel(args.model, { inputShape: data.inputShape, classes: data.classes, seed: args.seed });
    const runDir = args['run-dir'] ?? path.join('runs', timestamp());
    process.stdout.write(`backend ${backend.name}, model ${args.model}, ${data.size} ${data.name} examples, run ${runDir}\n`);
    // The arguments as typed (yargs also adds camelCase aliases).
    const config = { command: 'train', ...Object.fromEntries(Object.entries(args).filter(([k]) => /^[a-z]+(-[a-z]+)*$/.test(k))) } as JsonValue;
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    try {
      const res = await train(model, data, {
        policy: args.policy,
        ...(args.steps !== undefined ? { steps: args.steps } : { epochs: args.epochs ?? 3 }),
        batchSize: args['batch-size'],
        learningRate: args.lr,
        optimizer: args.optimizer as OptimizerName,
        validation,
        seed: args.seed,
        metrics: { groups: args.groups as keyof typeof PRESETS, ...(args.every !== undefined ? { every: args.every } : { budget: args.budget ?? 0.05 }) },
        runDir,
        checkpointEvery: args['checkpoint-every'],
        resume: args.resume,
        signal: ac.signal,
        logLevel: args['log-level'],
        console: true,
        config,
      });
      const last = res.history.at(-1);
      process.stdout.write(
        `${res.stopped ? 'stopped' : 'done'}: ${res.steps} steps, ${res.epochs} epochs${last ? `, loss ${last.loss.toFixed(4)}` : ''}` +
          `${last?.valAccuracy !== undefined ? `, val_acc ${last.valAccuracy.toFixed(4)}` : ''}; trace in ${runDir}\n`,
      );
    } catch (err) {
      if (err instanceof TrainingDiverged) {
        process.stderr.write(`gradcond: ${err.message}\n`);
        process.exitCode = 1;
        return;
      }
      throw err;
    } finally {
      process.off('SIGINT', onSigint);
      model.dispose();
    }
  },
};
