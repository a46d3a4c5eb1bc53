/**
 * `gradcond compare`: several policies × several seeds on one task, run in worker processes,
 * into one directory (compare.json + a run directory per run), with a table on stdout and a
 * report. See src/compare/compare.ts.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { parsePolicyOptions, resolvePolicy, withRunLength } from '../../../policies/index.js';
import { compare } from '../../compare/compare.js';
import { type CompareSpecInput, parseCompareSpec } from '../../compare/compareSpec.js';
import type { Budget } from '../../compare/runSpec.js';
import { formatTable } from '../../compare/table.js';
import { comparisonReport, writeHtml } from '../../report/index.js';
import { UsageError } from '../../errors.js';
import { defaultLearningRate, OPTIMIZERS, type OptimizerName } from '../../optimizer/optimizers.js';
import { PRESET_NAMES } from '../../optimizer/options.js';
import { DEFAULT_QUEUE } from '../../queue/jobs.js';
import { PASSWORD_ENV, parseRedisUrl } from '../../queue/redisUrl.js';
import { checkWritableDir } from '../../trace/dirs.js';
import { type DataArgs, dataOptions, dataSpecOf } from '../dataOptions.js';
import { modelOptions, modelRefOf, type ModelArgs } from '../modelOptions.js';
import { progressView, short } from '../progress.js';
import { SIGNAL_EXIT, signalHandlers } from '../signals.js';

export const DEFAULT_POLICIES = ['constant', 'cosine', 'plateau', 'adascale', 'conditioned'];

/** Named sets of policies: the thesis' policies against the baselines of their kind. */
export const POLICY_PRESETS: Record<string, string[]> = {
  start: DEFAULT_POLICIES,
  lr: ['constant', 'step', 'cosine', 'plateau', 'hypergradient', 'adascale', 'step-consistency-lr'],
  batch: ['constant', 'adabatch', 'cabs', 'divebatch', 'noise-scale', 'goodput', 'batch-dissonance-batch'],
  thesis: ['constant', 'step-consistency-lr', 'batch-dissonance-batch', 'conditioned'],
};

export interface CompareArgs extends DataArgs, ModelArgs {
  policies?: string;
  preset?: string;
  'policy-opt'?: string[];
  seeds: string;
  optimizer: string;
  lr?: number;
  'batch-size': number;
  'budget-examples'?: number;
  epochs?: number;
  steps?: number;
  seconds?: number;
  'validate-every'?: number;
  groups: string;
  'metric-budget'?: number;
  every?: number;
  jobs: number;
  out?: string;
  resume: boolean;
  overwrite: boolean;
  target: number;
  baseline?: string;
  json: boolean;
  report: boolean;
  quiet: boolean;
  backend: string;
  queue?: string;
  'queue-name'?: string;
}

/** `--seeds 3` is seeds 0, 1, 2; `--seeds 4,7` is those seeds. */
export function seedsOf(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const nums = parts.map(Number);
  if (!nums.length || nums.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError(`--seeds must be a count or a comma-separated list of non-negative integers, got "${text}"`);
  if (parts.length === 1) return Array.from({ length: nums[0]! }, (_, i) => i);
  if (new Set(nums).size !== nums.length) throw new UsageError(`--seeds lists a seed twice: "${text}"`);
  return nums;
}

/** `--policy-opt plateau.patience=3` (repeatable) → options per policy name. */
export function policyOptionsOf(args: readonly string[] = []): Map<string, Record<string, unknown>> {
  const grouped = new Map<string, string[]>();
  for (const a of args) {
    const m = /^([a-z0-9+-]+)\.(.+)$/i.exec(a);
    if (!m) throw new UsageError(`--policy-opt must be POLICY.OPTION=VALUE (e.g. plateau.patience=3), got "${a}"`);
    grouped.set(m[1]!, [...(grouped.get(m[1]!) ?? []), m[2]!]);
  }
  return new Map([...grouped].map(([name, kv]) => [name, parsePolicyOptions(kv)]));
}

/** The run's length for schedules that need one (cosine's `total`), when the budget fixes it. */
function runLength(b: Budget, batchSize: number): { total: number; unit: 'step' | 'epoch' } | null {
  if (b.kind === 'epochs') return { total: b.value, unit: 'epoch' };
  if (b.kind === 'steps') return { total: b.value, unit: 'step' };
  if (b.kind === 'examples') return { total: Math.ceil(b.value / batchSize), unit: 'step' };
  return null; // a time budget: give the schedule's total yourself
}

function budgetOf(a: CompareArgs): Budget {
  const given = (['budget-examples', 'epochs', 'steps', 'seconds'] as const).filter((k) => a[k] !== undefined);
  if (given.length > 1) throw new UsageError(`give one budget: ${given.map((k) => `--${k}`).join(' and ')} were both given`);
  if (a.steps !== undefined) return { kind: 'steps', value: a.steps };
  if (a.epochs !== undefined) return { kind: 'epochs', value: a.epochs };
  if (a.seconds !== undefined) return { kind: 'seconds', value: a.seconds };
  return { kind: 'examples', value: a['budget-examples'] ?? 27_000 };
}

export function compareSpecOf(a: CompareArgs) {
  if (a.policies !== undefined && a.preset !== undefined) throw new UsageError('give --policies or --preset, not both');
  if (a.preset !== undefined && !Object.hasOwn(POLICY_PRESETS, a.preset)) throw new UsageError(`unknown --preset '${a.preset}': choose ${Object.keys(POLICY_PRESETS).join(', ')}`);
  const names = (a.policies ?? POLICY_PRESETS[a.preset ?? 'start']!.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('--policies needs at least one policy');
  const options = policyOptionsOf(a['policy-opt']);
  for (const name of options.keys()) if (!names.includes(name)) throw new UsageError(`--policy-opt names '${name}', which is not in --policies`);
  const optimizer = a.optimizer as OptimizerName;
  const metrics = { groups: a.groups, ...(a.every !== undefined ? { every: a.every } : {}), ...(a['metric-budget'] !== undefined ? { budget: a['metric-budget'] } : {}) };
  const budget = budgetOf(a);
  const length = runLength(budget, a['batch-size']);
  const spec: CompareSpecInput = {
    policies: names.map((name) => {
      const opts = length ? withRunLength(name, options.get(name), length) : options.get(name);
      return { name, ...(opts !== undefined ? { options: opts } : {}) };
    }),
    seeds: seedsOf(a.seeds),
    model: modelRefOf(a),
    data: dataSpecOf(a),
    optimizer,
    learningRate: a.lr ?? defaultLearningRate(optimizer),
    batchSize: a['batch-size'],
    budget,
    ...(a['validate-every'] !== undefined ? { validateEvery: a['validate-every'] } : {}),
    metrics,
    ...(a.baseline !== undefined ? { baseline: a.baseline } : {}),
    targetFraction: a.target,
  };
  const parsed = parseCompareSpec(spec);
  for (const p of parsed.policies) resolvePolicy(p.name).validate(p.options); // every policy's options, before any run starts
  return parsed;
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-').replace('T', '_').replace('Z', '');
}

export function compareBuilder(y: Argv) {
  return y
    .option('policies', { type: 'string', describe: `policies to compare, comma-separated (gradcond policies lists them); a+b composes (default: ${DEFAULT_POLICIES.join(',')})` })
    .option('preset', { type: 'string', describe: `a named set of policies instead: ${Object.entries(POLICY_PRESETS).map(([k, v]) => `${k} = ${v.join(',')}`).join('; ')}` })
    .option('policy-opt', { type: 'string', array: true, describe: 'a policy option, POLICY.OPTION=VALUE (repeatable), e.g. plateau.patience=3' })
    .option('seeds', { type: 'string', default: '3', describe: 'a count (seeds 0..n−1) or a list (4,7,9): each seed gives every policy the same initial weights and data order' })
    .options(modelOptions)
    .options(dataOptions)
    .option('optimizer', { type: 'string', default: 'sgd', describe: `one of ${Object.keys(OPTIMIZERS).join(', ')}` })
    .option('lr', { type: 'number', describe: 'initial learning rate (default per optimizer: sgd 0.1, momentum 0.01, adam and rmsprop 0.001)' })
    .option('batch-size', { type: 'number', default: 64, describe: 'initial batch size' })
    .option('budget-examples', { type: 'number', describe: 'budget per run: examples seen (the default, 27,000 = 3 epochs of the embedded set; fair when batch sizes differ)' })
    .option('epochs', { type: 'number', describe: 'budget per run: epochs instead' })
    .option('steps', { type: 'number', describe: 'budget per run: optimizer steps instead' })
    .option('seconds', { type: 'number', describe: 'budget per run: wall-clock seconds instead' })
    .option('validate-every', { type: 'number', describe: 'also validate every k steps (finer time-to-target; default: at each epoch end only)' })
    .option('groups', { type: 'string', default: 'economy', describe: `metric groups sampled besides those the policy reads, a preset: ${PRESET_NAMES.join(', ')}` })
    .option('metric-budget', { type: 'number', describe: 'fraction of wall time for metrics (default 0.05)' })
    .option('every', { type: 'number', describe: 'sample the metric groups every k steps instead of a budget' })
    .option('jobs', { type: 'number', default: os.availableParallelism(), describe: 'worker processes (one core each)' })
    .option('out', { type: 'string', describe: 'comparison directory (default runs/compare-<time>)' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the comparison in --out: rerun only unfinished runs' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace the comparison in --out' })
    .option('target', { type: 'number', default: 0.95, describe: 'time to target: this fraction of the best validation accuracy any run reached' })
    .option('baseline', { type: 'string', describe: "the policy others are tested against (default 'constant' if compared)" })
    .option('json', { type: 'boolean', default: false, describe: 'print compare.json instead of the table' })
    .option('report', { type: 'boolean', default: true, describe: 'write report.html into the comparison directory (--no-report: do not)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    .option('queue', { type: 'string', describe: `run on workers through a queue on Redis instead of here: redis://[user:password@]host[:port][/db], rediss:// for TLS (or the password in $${PASSWORD_ENV}); start them with gradcond worker` })
    .option('queue-name', { type: 'string', defaultDescription: DEFAULT_QUEUE, describe: 'the queue (with --queue): workers take runs from the queue of this name' });
}

export async function runCompare(args: CompareArgs): Promise<void> {
  const spec = compareSpecOf(args);
  if (!(Number.isInteger(args.jobs) && args.jobs > 0)) throw new UsageError(`--jobs must be a positive integer, got ${args.jobs}`);
  const out = args.out ?? path.join('runs', `compare-${timestamp()}`);
  checkWritableDir(out, 'comparison directory'); // at once, before any worker starts (a path under /proc once hung here)
  const view = progressView({ quiet: args.quiet || args.json });
  const runs = spec.policies.length * spec.seeds.length;
  if (args['queue-name'] !== undefined && args.queue === undefined) throw new UsageError('--queue-name applies only with --queue');
  const where = args.queue !== undefined ? `through queue '${args['queue-name'] ?? DEFAULT_QUEUE}' on ${parseRedisUrl(args.queue).display}` : `on ${args.jobs} worker(s)`;
  view.log(`comparing ${spec.policies.map((p) => p.name).join(', ')} × ${spec.seeds.length} seed(s) = ${runs} runs ${where}; budget ${spec.budget.value} ${spec.budget.kind} per run; into ${out}`);
  // The queue's client (bullmq) loads only when a queue is asked for: it is slow to import.
  const url = args.queue;
  const runner = url !== undefined ? (await import('../../queue/submit.js')).queueRunner({ url, queueName: args['queue-name'], compareDir: out, log: view.log }) : undefined;
  const signals = signalHandlers();
  let file;
  try {
    file = await compare(spec, out, {
      jobs: args.jobs, resume: args.resume, overwrite: args.overwrite, signal: signals.abort, ...(runner ? { runner } : {}),
      onProgress: (p) => view.update(p.id, p.fraction, { step: p.step, epoch: p.epoch, loss: short(p.loss), lr: short(p.learningRate), batch: p.batchSize }),
      onFinished: (f, done, total) => view.log(`${f.id}: ${f.error ? `failed: ${f.error}` : 'finished'} (${done}/${total})`),
    });
  } finally {
    view.stop();
    signals.release();
  }
  const sig = signals.signal();
  if (sig !== null) {
    process.stderr.write(`gradcond: stopped by ${sig}, every run with a checkpoint: continue with --resume --out ${out}\n`);
    process.exitCode = SIGNAL_EXIT[sig];
    return;
  }
  const report = path.join(out, 'report.html');
  if (args.report) await writeHtml(comparisonReport(out), report);
  if (args.json) process.stdout.write(`${JSON.stringify(file)}\n`);
  else process.stdout.write(`${formatTable(file.table!)}\n\ncomparison in ${out}${args.report ? `; report ${report}` : ''}\n`);
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare',
  describe: 'Compare policies × seeds on one task: a table of medians with a paired significance test, and every run traced',
  builder: (y) => compareBuilder(y) as never,
  handler: runCompare,
};
