/**
 * `gradcond fitness`: ranks candidate architectures at initialisation by their fitness score
 * (src/fitness), or by a zero-cost proxy with `--proxy`. Candidates are zoo specs, saved models,
 * or a JSON list of either; all are scored on the same batches of the data set's training split.
 */
import type { CommandModule } from 'yargs';
import { useBackend } from '../../backend/backend.js';
import type { ModelRef } from '../../compare/runSpec.js';
import { loadData } from '../../data/registry.js';
import { UsageError } from '../../errors.js';
import { candidateOf, parseZooSpec, readCandidateFile } from '../../fitness/candidates.js';
import { PROXY_NAMES } from '../../fitness/proxies/index.js';
import { AGAINST, type Against, formatTable, rankFitness } from '../../fitness/rank.js';
import { describeModels } from '../../models/zoo.js';
import { type DataArgs, dataOptions, dataSpecOf } from '../dataOptions.js';
import { backendOption } from '../options.js';

interface FitnessArgs extends DataArgs {
  zoo?: string[];
  model?: string[];
  candidates?: string;
  proxy?: string;
  against: Against;
  'batch-size': number;
  batches: number;
  seed: number;
  steps: number;
  lr: number;
  json: boolean;
  quiet: boolean;
  backend: string;
  threads: number;
}

function refsOf(args: FitnessArgs): ModelRef[] {
  const refs: ModelRef[] = [
    ...(args.zoo ?? []).map(parseZooSpec),
    ...(args.model ?? []).map((path) => ({ path })),
    ...(args.candidates ? readCandidateFile(args.candidates) : []),
  ];
  if (refs.length === 0) throw new UsageError('name at least one candidate: --zoo NAME:key=value,…, --model PATH/model.json or --candidates LIST.json');
  return refs;
}

export const fitnessCommand: CommandModule<object, FitnessArgs> = {
  command: 'fitness',
  describe: 'Rank architectures at initialisation by a gradient-conditioning fitness score (or a zero-cost proxy)',
  builder: (y) =>
    y
      .option('zoo', { type: 'string', array: true, describe: `zoo candidates, NAME or NAME:key=value,… (depth, width, activation, batchNorm, seed):\n${describeModels().join('\n')}` })
      .option('model', { type: 'string', array: true, describe: 'saved tfjs Layers model.json candidates (weights beside each)' })
      .option('candidates', { type: 'string', describe: 'a JSON list of candidates: [{"zoo": NAME, "options": {...}} or {"path": "model.json"}, ...]' })
      .option('proxy', { choices: PROXY_NAMES, describe: 'score by this zero-cost proxy instead of the fitness rule' })
      .option('against', {
        choices: AGAINST, default: 'candidates' as const,
        describe: "candidates: each metric ranked among the candidates scored together (any data); reference: against the stored Fashion-MNIST reference, the same score whatever else is ranked",
      })
      .options(dataOptions)
      .option('batch-size', { type: 'number', default: 32, describe: 'examples per scoring batch' })
      .option('batches', { type: 'number', default: 4, describe: 'scoring batches (≥ 2: confusion and diversity compare batches)' })
      .option('seed', { type: 'number', default: 0, describe: 'seeds the scoring batches, and zoo weights unless a spec gives seed=' })
      .option('steps', { type: 'number', default: 0, describe: 'plain SGD steps before scoring (0: at initialisation)' })
      .option('lr', { type: 'number', default: 0.05, describe: 'learning rate of the --steps warm-up' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON record per candidate, ranked: {"rank", "model", "score", "reason", "dead", "metrics", "reasons", "ms"}' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr' })
      .options(backendOption)
      .example('$0 fitness --zoo fc-orthogonal:depth=4,width=128 resnet:depth=8 cnn-plain:depth=8', 'rank three zoo architectures')
      .example('$0 fitness --model a/model.json b/model.json --json', 'rank saved models, one JSON record each')
      .example('$0 fitness --zoo mlp cnn --proxy synflow', 'rank by a zero-cost proxy') as never,
  handler: async (args) => {
    const refs = refsOf(args);
    await useBackend(args.backend, { threads: args.threads });
    const { train } = loadData({ ...dataSpecOf(args), valExamples: 0, testExamples: 0 } as never);
    const candidates = refs.map((ref) => candidateOf(ref, { inputShape: train.inputShape, classes: train.classes, seed: args.seed }));
    const opts = { batchSize: args['batch-size'], batches: args.batches, seed: args.seed, steps: args.steps, learningRate: args.lr, against: args.against, ...(args.proxy ? { proxy: args.proxy } : {}) };
    const records = await rankFitness(candidates, train, opts, (r, done) => {
      if (!args.quiet) process.stderr.write(`[${done}/${candidates.length}] ${r.model}: ${r.score === null && Object.keys(r.metrics).length === 0 ? `failed (${r.reason})` : 'measured'} in ${(r.ms / 1000).toFixed(1)} s\n`);
    });
    if (args.json) {
      for (const r of records) process.stdout.write(`${JSON.stringify({ rank: r.rank, model: r.model, score: r.score, reason: r.reason, dead: r.dead, metrics: r.metrics, reasons: r.reasons, ms: Math.round(r.ms) })}\n`);
    } else {
      process.stdout.write(`${formatTable(records).join('\n')}\n`);
    }
  },
};
