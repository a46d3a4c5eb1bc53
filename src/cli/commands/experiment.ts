/**
 * `gradcond experiment NAME [--quick] [--out DIR] [--jobs N] [--resume]` and
 * `gradcond experiment --list`: a chapter-4 experiment from its definition (experiments/), run
 * in worker processes (or through a queue), resumable, analysed, reported. See
 * src/experiments/run.ts and docs/experiments.md.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { useBackend } from '../../backend/backend.js';
import { UsageError } from '../../errors.js';
import { getAnalysis } from '../../experiments/analyses.js';
import { estimateTime, formatDuration } from '../../experiments/estimate.js';
import { planExperiment } from '../../experiments/plan.js';
import { experiments, getExperiment } from '../../experiments/registry.js';
import { runExperiment } from '../../experiments/run.js';
import type { ExperimentDefinition, VariantName } from '../../experiments/types.js';
import { DEFAULT_QUEUE } from '../../queue/jobs.js';
import { PASSWORD_ENV, parseRedisUrl } from '../../queue/redisUrl.js';
import { queueRunner } from '../../queue/submit.js';
import { backendOption } from '../options.js';
import { progressView, short } from '../progress.js';

export interface ExperimentArgs {
  name?: string;
  list: boolean;
  quick: boolean;
  out?: string;
  jobs: number;
  resume: boolean;
  overwrite: boolean;
  estimate: boolean;
  'dry-run': boolean;
  recalibrate: boolean;
  reuse?: string;
  quiet: boolean;
  backend: string;
  queue?: string;
  'queue-name'?: string;
}

/** One line per experiment: name, number, runs of each variant, title and figures. */
export function experimentList(): string {
  const lines = experiments().map((d) => {
    const runs = d.quick.blocks.length || d.full.blocks.length ? `${planExperiment(d.quick).length} quick / ${planExperiment(d.full).length} full runs` : 'no training runs: it measures by itself';
    const figures = d.figures.length ? `; figures ${d.figures.map((f) => f.replace(/^figures? /, '')).join(', ')}` : '';
    return `${d.number !== undefined ? `${d.number}.` : '  '} ${d.name.padEnd(10)} ${d.title} (${runs}${figures})`;
  });
  return `${lines.join('\n')}\n`;
}

/** The plan and its expected time here, as one line. */
async function dryRun(definition: ExperimentDefinition, variant: VariantName, jobs: number, recalibrate: boolean, log: (line: string) => void): Promise<string> {
  const planned = planExperiment(definition[variant]);
  const e = await estimateTime(planned.map((p) => p.spec), { runs: planned.length, jobs, analysisSeconds: getAnalysis(definition.analysis).estimateSeconds?.(definition[variant], variant), log, recalibrate });
  return `${definition.name} (${variant}): ${planned.length} run(s) on ${jobs} worker(s), expected time here ${formatDuration(e.seconds)} (${formatDuration(e.runSeconds)} of run time; ${e.method})`;
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-').replace('T', '_').replace('Z', '');
}

export function experimentBuilder(y: Argv) {
  return y
    .positional('name', { type: 'string', describe: 'the experiment, by name or number (--list shows them)' })
    .option('list', { type: 'boolean', default: false, describe: 'list the experiments and exit' })
    .option('quick', { type: 'boolean', default: false, describe: 'the quick variant: a tiny grid that runs in minutes (default: the full variant, sized for hours)' })
    .option('out', { type: 'string', describe: 'experiment directory (default runs/experiment-NAME-VARIANT-<time>)' })
    .option('jobs', { type: 'number', default: os.availableParallelism(), describe: 'worker processes (one core each)' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the experiment in --out: rerun only unfinished runs, redo the analysis and report' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace the experiment in --out' })
    .option('estimate', { type: 'boolean', default: true, describe: 'calibrate here and print the expected time before running (--no-estimate skips it)' })
    .option('reuse', { type: 'string', describe: 'copy finished runs with the same spec from this experiment directory instead of running them (experiments 1 and 2 share their runs)' })
    .option('recalibrate', { type: 'boolean', default: false, describe: 'measure every configuration again instead of reusing this machine\'s calibrations of the last week' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'plan and estimate only: print the runs and the expected time, run nothing' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    .option('backend', { ...backendOption.backend, describe: 'tfjs backend of the calibration and the workers (one thread each)' })
    .option('queue', { type: 'string', describe: `run on workers through a queue on Redis instead of here: redis://[user:password@]host[:port][/db], rediss:// for TLS (or the password in $${PASSWORD_ENV}); start them with gradcond worker` })
    .option('queue-name', { type: 'string', defaultDescription: DEFAULT_QUEUE, describe: 'the queue (with --queue)' });
}

export async function runExperimentCommand(args: ExperimentArgs): Promise<void> {
  if (args.list) {
    process.stdout.write(experimentList());
    return;
  }
  if (args.name === undefined) throw new UsageError('name an experiment (gradcond experiment --list shows them)');
  const definition = getExperiment(args.name);
  if (!(Number.isInteger(args.jobs) && args.jobs > 0)) throw new UsageError(`--jobs must be a positive integer, got ${args.jobs}`);
  if (args['queue-name'] !== undefined && args.queue === undefined) throw new UsageError('--queue-name applies only with --queue');
  if (args.resume && args.overwrite) throw new UsageError('give --resume or --overwrite, not both');
  const variant = args.quick ? 'quick' : 'full';
  if ((args.resume || args.overwrite) && args.out === undefined) throw new UsageError(`--${args.resume ? 'resume' : 'overwrite'} needs --out DIR`);
  const out = args.out ?? path.join('runs', `experiment-${definition.name}-${variant}-${timestamp()}`);
  process.env.GRADCOND_BACKEND = args.backend; // the workers choose it (one thread each)
  // Also here: the estimate calibrates, and the masks, cost and fitness analyses measure, in this process.
  await useBackend(args.backend, { threads: 1 });
  if (args['dry-run']) {
    const e = await dryRun(definition, variant, args.jobs, args.recalibrate, (line) => (args.quiet ? undefined : process.stderr.write(`${line}\n`)));
    process.stdout.write(`${e}\n`);
    return;
  }
  const view = progressView({ quiet: args.quiet });
  const runner = args.queue !== undefined ? queueRunner({ url: args.queue, queueName: args['queue-name'], compareDir: out, log: view.log }) : undefined;
  if (args.queue !== undefined) view.log(`runs go through queue '${args['queue-name'] ?? DEFAULT_QUEUE}' on ${parseRedisUrl(args.queue).display}`);
  try {
    await runExperiment(definition, out, {
      variant, jobs: args.jobs, resume: args.resume, overwrite: args.overwrite, estimate: args.estimate, recalibrate: args.recalibrate, ...(runner ? { runner } : {}),
      ...(args.reuse !== undefined ? { reuse: args.reuse } : {}),
      log: (line) => (args.quiet ? undefined : process.stderr.write(`${line}\n`)),
      onProgress: (p) => view.update(p.id, p.fraction, { step: p.step, epoch: p.epoch, loss: short(p.loss), lr: short(p.learningRate), batch: p.batchSize }),
      onFinished: (f, done, total) => view.log(`${f.id}: ${f.error ? `failed: ${f.error}` : 'finished'} (${done}/${total})`),
    });
  } finally {
    view.stop();
  }
  process.stdout.write(`report: ${path.join(out, 'report.html')}\n`);
}

export const experimentCommand: CommandModule<object, ExperimentArgs> = {
  command: 'experiment [name]',
  describe: 'Run a chapter-4 experiment (a grid of runs, resumable), analyse it, and write experiment.json and report.html',
  builder: (y) => experimentBuilder(y) as never,
  handler: runExperimentCommand,
};
