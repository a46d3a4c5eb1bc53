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
import { POLICY_NAMES } from '../../../policies/index.js';
import { useBackend } from '../../backend/backend.js';
import { loadData } from '../../data/registry.js';
import { UsageError } from '../../errors.js';
import { LOG_LEVELS } from '../../log.js';
import { buildModel, MODELS } from '../../models/zoo.js';
import { PRESETS, type PresetName } from '../../optimizer/options.js';
import { OPTIMIZERS, type OptimizerName } from '../../optimizer/optimizers.js';
import type { JsonValue } from '../../trace/format.js';
import { formatSummary } from '../../trace/summary.js';
import { train, TrainingDiverged, type TrainResult } from '../../trainer/train.js';
import { dataOptions, dataSpecOf, type DataArgs } from '../dataOptions.js';
import { backendOption } from '../options.js';

interface TrainArgs extends DataArgs {
  model: string;
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

/** Exit codes of a run stopped by a signal: 128 + the signal's number. */
export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

function positiveInt(flag: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
}

function checkArgs(a: TrainArgs): void {
  positiveInt('epochs', a.epochs);
  positiveInt('steps', a.steps);
  positiveInt('batch-size', a['batch-size']);
  positiveInt('checkpoint-every', a['checkpoint-every']);
  positiveInt('every', a.every);
  if (a.epochs !== undefined && a.steps !== undefined) throw new UsageError('give --epochs or --steps, not both');
  if (a.lr !== undefined && !(Number.isFinite(a.lr) && a.lr > 0)) throw new UsageError(`--lr must be a positive number, got ${a.lr}`);
  const secs = a['checkpoint-seconds'];
  if (secs !== undefined && !(Number.isFinite(secs) && secs > 0)) throw new UsageError(`--checkpoint-seconds must be a positive number, got ${secs}`);
  if (a.budget !== undefined && !(a.budget > 0 && a.budget < 1)) throw new UsageError(`--budget must be a fraction in (0, 1), got ${a.budget}`);
  if (a.budget !== undefined && a.every !== undefined) throw new UsageError('give --budget or --every, not both');
  if (!Number.isInteger(a.seed)) throw new UsageError(`--seed must be an integer, got ${a.seed}`);
  if (a.resume && a['run-dir'] === undefined) throw new UsageError('--resume needs --run-dir (the run to continue)');
  if (a.resume && a.overwrite) throw new UsageError('give --resume or --overwrite, not both');
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-').replace('T', '_').replace('Z', '');
}

/** Where the signal handlers listen, write and exit: the process, or a test's stand-ins. */
export interface SignalEnv {
  target: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  write: (text: string) => void;
  exit: (code: number) => void;
}

const PROCESS_ENV: SignalEnv = { target: process, write: (t) => void process.stderr.write(t), exit: (c) => process.exit(c) };

/**
 * SIGINT / SIGTERM abort the run between steps (the trainer checkpoints and records the stop); a
 * second signal exits at once. `signal()` says which stopped the run; `release()` uninstalls.
 */
export function signalHandlers(env: SignalEnv = PROCESS_ENV): { abort: AbortSignal; signal: () => 'SIGINT' | 'SIGTERM' | null; release: () => void } {
  const ac = new AbortController();
  let caught: 'SIGINT' | 'SIGTERM' | null = null;
  const on = (sig: 'SIGINT' | 'SIGTERM') => {
    if (caught !== null) {
      env.write(`gradcond: ${sig} again: exiting now\n`);
      env.exit(SIGNAL_EXIT[sig]);
      return;
    }
    caught = sig;
    env.write(`gradcond: ${sig}: stopping after this step (${sig === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once)\n`);
    ac.abort(sig);
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  env.target.on('SIGINT', onInt);
  env.target.on('SIGTERM', onTerm);
  return {
    abort: ac.signal,
    signal: () => caught,
    release: () => {
      env.target.off('SIGINT', onInt);
      env.target.off('SIGTERM', onTerm);
    },
  };
}

function report(res: TrainResult, runDir: string): void {
  process.stdout.write(formatSummary(res.summary).map((l) => `${l}\n`).join('') + `trace in ${runDir}\n`);
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a model from the zoo under a policy, tracing the run (default: an MLP on the embedded data)',
  builder: (y) =>
    y
      .option('model', { choices: Object.keys(MODELS), default: 'mlp', describe: 'model from the zoo' })
      .options(dataOptions)
      .option('epochs', { type: 'number', describe: 'passes over the data (default 3; exclusive with --steps)' })
      .option('steps', { type: 'number', describe: 'optimizer steps in all (exclusive with --epochs)' })
      .option('batch-size', { type: 'number', default: 64, describe: 'initial batch size' })
      .option('lr', { type: 'number', describe: `initial learning rate (default per optimizer: ${Object.entries(OPTIMIZERS).map(([k, v]) => `${k} ${v.defaultLearningRate}`).join(', ')})` })
      .option('optimizer', { choices: Object.keys(OPTIMIZERS), default: 'sgd' })
      .option('policy', { type: 'string', default: 'constant', describe: `policy (${POLICY_NAMES.join(', ')}); 'a+b' composes` })
      .option('groups', { choices: Object.keys(PRESETS), default: 'full', describe: 'metric groups sampled' })
      .option('budget', { type: 'number', describe: 'metric overhead budget, a fraction of wall time (default 0.05)' })
      .option('every', { type: 'number', describe: 'sample the metric groups every k steps instead of a budget' })
      .option('run-dir', { type: 'string', describe: 'run directory (default: a new one under ./runs)' })
      .option('checkpoint-every', { type: 'number', describe: 'also checkpoint every k steps (always at the end)' })
      .option('checkpoint-seconds', { type: 'number', describe: 'checkpoint when this many seconds have passed since the last one (default 60)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --run-dir from its checkpoint' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace the run in --run-dir (trace, log, summary, checkpoint)' })
      .option('stop-on-dead-gradient', { type: 'boolean', default: false, describe: 'stop (exit 1) when the gradient is dead instead of only reporting it' })
      .option('seed', { type: 'number', default: 0 })
      .option('log-level', { choices: [...LOG_LEVELS], default: 'info' })
      .options(backendOption),
  handler: async (args) => {
    checkArgs(args);
    const backend = await useBackend(args.backend, { threads: args.threads });
    const { train: data, validation, description } = loadData(dataSpecOf(args));
    const model = buildModel(args.model, { inputShape: data.inputShape, classes: data.classes, seed: args.seed });
    const runDir = args['run-dir'] ?? path.join('runs', timestamp());
    const optimizer = args.optimizer as OptimizerName;
    const learningRate = args.lr ?? OPTIMIZERS[optimizer].defaultLearningRate;
    process.stdout.write(`backend ${backend.name}, model ${args.model}, ${data.size} ${data.name} examples, ${optimizer} lr ${learningRate}, run ${runDir}\n`);
    // The arguments as typed (yargs also adds camelCase aliases), and what the data is.
    const typed = Object.fromEntries(Object.entries(args).filter(([k]) => /^[a-z]+(-[a-z]+)*$/.test(k)));
    const config = JSON.parse(JSON.stringify({ command: 'train', ...typed, data: description })) as JsonValue;
    const signals = signalHandlers();
    try {
      const res = await train(model, data, {
        policy: args.policy,
        ...(args.steps !== undefined ? { steps: args.steps } : { epochs: args.epochs ?? 3 }),
        batchSize: args['batch-size'],
        learningRate,
        optimizer,
        validation,
        seed: args.seed,
        metrics: { groups: args.groups as PresetName, ...(args.every !== undefined ? { every: args.every } : { budget: args.budget ?? 0.05 }) },
        runDir,
        checkpointEvery: args['checkpoint-every'],
        checkpointSeconds: args['checkpoint-seconds'],
        resume: args.resume,
        overwrite: args.overwrite,
        stopOnDeadGradient: args['stop-on-dead-gradient'],
        signal: signals.abort,
        logLevel: args['log-level'],
        console: true,
        config,
      });
      report(res, runDir);
      const sig = signals.signal();
      if (res.stopped === 'aborted' && sig !== null) process.exitCode = SIGNAL_EXIT[sig];
      else if (res.stopped === 'dead-gradient') process.exitCode = 1;
    } catch (err) {
      if (!(err instanceof TrainingDiverged)) throw err;
      process.stderr.write(`gradcond: ${err.message}\n`);
      if (err.summary) process.stdout.write(formatSummary(err.summary).map((l) => `${l}\n`).join(''));
      process.exitCode = 1;
    } finally {
      signals.release();
      model.dispose();
    }
  },
};
