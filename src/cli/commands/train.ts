/**
 * `gradcond train`: train a model from the zoo through the trainer (src/trainer/train.ts), with
 * a policy, metric sampling, a traced run directory and checkpoints. With no arguments: an MLP
 * on the embedded data, 3 epochs, one line per epoch, a summary at the end.
 *
 * Exit codes: 0 done; 1 diverged (or stopped on a dead gradient); 2 bad input (one line);
 * 130 / 143 stopped by SIGINT / SIGTERM, after a checkpoint and a `stop` event. A second signal
 * exits at once.
 */
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { parsePolicyOptions, POLICY_NAMES, withRunLength } from '../../../policies/index.js';
import { useBackend } from '../../backend/backend.js';
import { loadData } from '../../data/registry.js';
import { LOG_LEVELS } from '../../log.js';
import { tf } from '../../backend/tf.js';
import { loadModel } from '../../models/io.js';
import { buildModel } from '../../models/zoo.js';
import { PRESETS, type PresetName } from '../../optimizer/options.js';
import { defaultLearningRate, OPTIMIZERS, type OptimizerName } from '../../optimizer/optimizers.js';
import type { JsonValue } from '../../trace/format.js';
import { formatSummary } from '../../trace/summary.js';
import { checkRunDirectory, train, TrainingDiverged, type TrainResult } from '../../trainer/train.js';
import { type PolicySpec, type TrainOptions, validateTrainOptions } from '../../trainer/options.js';
import type { StepEvent } from '../../stream/types.js';
import { checkModelRef, modelOptions, modelRefOf, type ModelArgs } from '../modelOptions.js';
import { progressView, short } from '../progress.js';
import { SIGNAL_EXIT, signalHandlers } from '../signals.js';

export { SIGNAL_EXIT, signalHandlers } from '../signals.js';
import { dataOptions, dataSpecOf, type DataArgs } from '../dataOptions.js';
import { backendOption } from '../options.js';

interface TrainArgs extends DataArgs, ModelArgs {
  'policy-opt'?: string[];
  'validate-every'?: number;
  'step-metrics'?: number;
  json: boolean;
  epochs?: number;
  steps?: number;
  'batch-size': number;
  lr?: number;
  optimizer: string;
  policy: string;
  budget?: number;
  every?: number;
  groups: string;
  'run-dir'?: string;
  'checkpoint-every'?: number;
  'checkpoint-seconds'?: number;
  resume: boolean;
  overwrite: boolean;
  'stop-on-dead-gradient': boolean;
  seed: number;
  'log-level': string;
  backend: string;
  threads: number;
}


function report(res: TrainResult, runDir: string): void {
  process.stdout.write(formatSummary(res.summary).map((l) => `${l}\n`).join('') + `trace in ${runDir}\n`);
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-').replace('T', '_').replace('Z', '');
}

/** A model from the zoo (seeded) or a saved one, for data of this shape. */
async function modelFor(args: TrainArgs, inputShape: number[], classes: number): Promise<tf.LayersModel> {
  const ref = modelRefOf(args);
  if ('path' in ref) return loadModel(ref.path);
  return buildModel(ref.zoo, { ...ref.options, inputShape, classes, seed: args.seed });
}

/** The policy with its options; a schedule's `total` defaults to the run's length. */
function policyOf(args: TrainArgs): PolicySpec {
  const given = args['policy-opt']?.length ? parsePolicyOptions(args['policy-opt']) : undefined;
  const length = args.steps !== undefined ? { total: args.steps, unit: 'step' as const } : { total: args.epochs ?? 3, unit: 'epoch' as const };
  const options = withRunLength(args.policy, given, length);
  return options === undefined ? args.policy : { name: args.policy, options };
}

/** The trainer's options from the flags (validated by the trainer's own schema). */
function trainOptionsOf(args: TrainArgs, runDir: string): TrainOptions {
  const optimizer = args.optimizer as OptimizerName;
  return {
    policy: policyOf(args),
    // Both when both are given (the schema refuses that); 3 epochs when neither is.
    ...(args.steps !== undefined ? { steps: args.steps } : {}),
    ...(args.epochs !== undefined || args.steps === undefined ? { epochs: args.epochs ?? 3 } : {}),
    batchSize: args['batch-size'],
    learningRate: args.lr ?? defaultLearningRate(optimizer),
    optimizer,
    seed: args.seed,
    validateEvery: args['validate-every'],
    metrics: {
      groups: args.groups as PresetName,
      ...(args.every !== undefined ? { every: args.every } : { budget: args.budget ?? 0.05 }),
      ...(args['step-metrics'] !== undefined ? { stepMetrics: args['step-metrics'] } : {}),
    },
    runDir,
    checkpointEvery: args['checkpoint-every'],
    checkpointSeconds: args['checkpoint-seconds'],
    resume: args.resume,
    overwrite: args.overwrite,
    stopOnDeadGradient: args['stop-on-dead-gradient'],
    logLevel: args['log-level'],
    console: !args.json,
  };
}

/** A progress bar on a terminal (step, epoch, loss, learning rate, batch size, ETA). */
function progressOf(args: TrainArgs, stepsInAll: number | null) {
  const view = progressView({ quiet: args.json || stepsInAll === null });
  return {
    onStep: (e: StepEvent) => view.update('train', (e.step + 1) / stepsInAll!, { step: e.step + 1, epoch: e.epoch, loss: short(e.loss), lr: short(e.learningRate), batch: e.batchSize }),
    stop: () => view.stop(),
  };
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a model under a policy, tracing the run (default: an MLP on the embedded Fashion-MNIST)',
  builder: (y) =>
    y
      .options(modelOptions)
      .options(dataOptions)
      .option('epochs', { type: 'number', describe: 'passes over the data (default 3; exclusive with --steps)' })
      .option('steps', { type: 'number', describe: 'optimizer steps in all (exclusive with --epochs)' })
      .option('batch-size', { type: 'number', default: 64, describe: 'initial batch size' })
      .option('lr', { type: 'number', describe: `initial learning rate (default per optimizer: ${Object.entries(OPTIMIZERS).map(([k, v]) => `${k} ${v.defaultLearningRate}`).join(', ')})` })
      // Choices are checked by the trainer's schema (the library's messages), not by yargs.
      .option('optimizer', { type: 'string', default: 'sgd', describe: `one of ${Object.keys(OPTIMIZERS).join(', ')}` })
      .option('policy', { type: 'string', default: 'constant', describe: `policy (${POLICY_NAMES.join(', ')}; gradcond policies explains them); 'a+b' composes` })
      .option('policy-opt', { type: 'string', array: true, describe: 'a policy option NAME=VALUE (repeatable) or a JSON object, e.g. --policy-opt patience=3; a schedule\'s total defaults to the run length' })
      .option('groups', { type: 'string', default: 'full', describe: `metric groups sampled, a preset: ${Object.keys(PRESETS).join(', ')} (the policy's groups are always on)` })
      .option('budget', { type: 'number', describe: 'metric overhead budget, a fraction of wall time (default 0.05)' })
      .option('every', { type: 'number', describe: 'sample the metric groups every k steps instead of a budget' })
      .option('step-metrics', { type: 'number', describe: "measure the per-step numbers (norms, kappaWStep, dot products) every step (1, the default) or on 2 of every k steps: on the bench MLP (5 ms steps) 1.4-1.6x a plain step at 1, 1.0-1.2x at 10" })
      .option('validate-every', { type: 'number', describe: 'also validate every k steps (default: at each epoch end)' })
      .option('run-dir', { type: 'string', describe: 'run directory (default: a new one under ./runs)' })
      .option('checkpoint-every', { type: 'number', describe: 'also checkpoint every k steps (always at the end)' })
      .option('checkpoint-seconds', { type: 'number', describe: 'checkpoint when this many seconds have passed since the last one (default 60)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --run-dir from its checkpoint' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace the run in --run-dir (trace, log, summary, checkpoint)' })
      .option('stop-on-dead-gradient', { type: 'boolean', default: false, describe: 'stop (exit 1) when the gradient is dead instead of only reporting it' })
      .option('seed', { type: 'number', default: 0, describe: 'seeds the initial weights, the data order and the metric sampling' })
      .option('json', { type: 'boolean', default: false, describe: 'print only the final summary, as one JSON object' })
      .option('log-level', { type: 'string', default: 'info', describe: `one of ${LOG_LEVELS.join(', ')}` })
      .options(backendOption),
  handler: async (args) => {
    const runDir = args['run-dir'] ?? path.join('runs', timestamp());
    const opts = trainOptionsOf(args, runDir);
    validateTrainOptions(opts); // bad flags fail before any data is loaded,
    checkModelRef(modelRefOf(args), args); // a model that cannot be built or found,
    checkRunDirectory(opts); // and a run directory that cannot be used as asked
    const backend = await useBackend(args.backend, { threads: args.threads });
    const { train: data, validation, description } = loadData(dataSpecOf(args));
    const model = await modelFor(args, data.inputShape, data.classes);
    const say = (t: string) => void (args.json ? process.stderr : process.stdout).write(t);
    say(`backend ${backend.name}, model ${args.model}, ${data.size} ${data.name} examples, ${opts.optimizer} lr ${opts.learningRate}, run ${runDir}\n`);
    // The arguments as typed (yargs also adds camelCase aliases), and what the data is.
    const typed = Object.fromEntries(Object.entries(args).filter(([k]) => /^[a-z]+(-[a-z]+)*$/.test(k)));
    const config = JSON.parse(JSON.stringify({ command: 'train', ...typed, data: description })) as JsonValue;
    const steps = args.steps ?? (process.stderr.isTTY ? (args.epochs ?? 3) * Math.ceil(data.size / args['batch-size']) : null);
    const progress = progressOf(args, steps);
    const signals = signalHandlers();
    try {
      const res = await train(model, data, { ...opts, validation, signal: signals.abort, config, onStep: progress.onStep });
      progress.stop();
      if (args.json) process.stdout.write(`${JSON.stringify(res.summary)}\n`);
      else report(res, runDir);
      const sig = signals.signal();
      if (res.stopped === 'aborted' && sig !== null) {
        process.stderr.write(`gradcond: stopped by ${sig} after ${res.steps} steps, with a checkpoint: continue with --resume --run-dir ${runDir}\n`);
        process.exitCode = SIGNAL_EXIT[sig];
      } else if (res.stopped === 'dead-gradient') {
        process.stderr.write(`gradcond: stopped: ${res.summary.stopReason ?? 'dead gradient'}\n`);
        process.exitCode = 1;
      }
    } catch (err) {
      progress.stop();
      if (!(err instanceof TrainingDiverged)) throw err;
      process.stderr.write(`gradcond: ${err.message}\n`);
      if (err.summary) say(formatSummary(err.summary).map((l) => `${l}\n`).join(''));
      process.exitCode = 1;
    } finally {
      signals.release();
      model.dispose();
    }
  },
};
