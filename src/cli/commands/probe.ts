/**
 * `gradcond probe`: the metrics of a saved model on given batches — a data.json, or batches
 * drawn from a data set — by the deterministic protocol documented in docs/metrics.md.
 */
import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { useBackend } from '../../backend/backend.js';
import { tf } from '../../backend/tf.js';
import { batchTensors } from '../../data/dataset.js';
import { mulberry32, permutation } from '../../data/random.js';
import { loadData } from '../../data/registry.js';
import { WEIGHT_SAMPLINGS } from '../../engine/context.js';
import { LOSS_NAMES } from '../../engine/losses.js';
import { UsageError } from '../../errors.js';
import { loadModel } from '../../models/io.js';
import { PROBE_MAX_EXAMPLES, type ProbeData, probe, readProbeData, subsampleLine, subsamplesOf } from '../../probe.js';
import { intAtLeast, parseOptions, positiveInt } from '../../validation.js';
import { z } from 'zod';
import { type DataArgs, dataOptions, dataSpecOf } from '../dataOptions.js';
import { backendOption } from '../options.js';

interface ProbeArgs extends DataArgs {
  model: string;
  loss?: string;
  eta: number;
  n: number;
  directions: string;
  mask: number;
  seed: number;
  'batch-size': number;
  batches: number;
  'max-examples': number;
  'gram-subset'?: number;
  json: boolean;
  backend: string;
  threads: number;
}

/** Batches of more examples than this make the probe say what it does on stderr, and when it is done. */
const LONG_WORK_EXAMPLES = 256;

const DrawSchema = z.object({ batchSize: positiveInt('batchSize'), batches: intAtLeast('batches', 2), maxExamples: positiveInt('maxExamples') });

/** Progress on stderr, one line at a time. */
const say = (line: string) => void process.stderr.write(`gradcond: probe: ${line}\n`);

/**
 * `batches` batches of `b` examples from the data set's training split, in a seeded order; a
 * `b` above --max-examples draws only that many per batch, and says so.
 */
function drawBatches(args: ProbeArgs): ProbeData {
  const d = parseOptions(DrawSchema, { batchSize: args['batch-size'], batches: args.batches, maxExamples: args['max-examples'] }, 'probe');
  const b = Math.min(d.batchSize, d.maxExamples);
  if (b < d.batchSize) say(`--batch-size ${d.batchSize} is more than --max-examples ${d.maxExamples}: drawing ${d.batches} batches of ${b} examples (raise --max-examples to use more: the cost grows faster than the square of the batch size)`);
  if (b > LONG_WORK_EXAMPLES) say(`loading ${args.data} and drawing ${d.batches} batches of ${b} examples`);
  const { train } = loadData({ ...dataSpecOf({ ...args, data: args.data }), valExamples: 0, testExamples: 0 } as never);
  const need = b * d.batches;
  if (need > train.size) throw new UsageError(`--batches ${d.batches} × --batch-size ${b} needs ${need} examples; the training split has ${train.size}`);
  const order = permutation(train.size, mulberry32(args.seed));
  const batches = Array.from({ length: d.batches }, (_, k) => batchTensors(train, order.subarray(k * b, (k + 1) * b)));
  return { loss: 'categoricalCrossentropy', batches };
}

/** The data options; `--data` (redefined below) also takes a data.json path. */
const { data: _data, ...probeDataOptions } = dataOptions;

export const probeCommand: CommandModule<object, ProbeArgs> = {
  command: 'probe',
  describe: 'Every gradient-conditioning metric of a saved model on given batches (a deterministic protocol: docs/metrics.md)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'path to a tfjs Layers model.json (weights beside it)' })
      .options(probeDataOptions)
      .option('data', {
        type: 'string', default: 'embedded',
        describe: 'a data.json ({"loss": NAME, "batches": [{"x": [...], "y": [...]}, ...]}, ≥ 2 batches), or a data set to draw batches from: embedded, fashion-mnist, synthetic, csv, json',
      })
      .option('batch-size', { type: 'number', default: 32, describe: 'with a data set: examples per batch' })
      .option('batches', { type: 'number', default: 3, describe: 'with a data set: batches drawn (≥ 2: confusion and diversity compare batches)' })
      .option('max-examples', { type: 'number', default: PROBE_MAX_EXAMPLES, describe: 'use at most this many examples of each batch (its first ones), and say so: the cost grows faster than the square of the batch size' })
      .option('gram-subset', {
        type: 'number',
        describe: 'approximate the Gram-based metrics (stableRankX, rankX, stableRankW, rankW, coherence, noiseScale) on disjoint random sub-batches of N examples: mean ± standard error, an estimate at batch size N; cost b·N instead of b² (with --max-examples, for batches above 1,024)',
      })
      .option('loss', { type: 'string', describe: `loss, one of ${LOSS_NAMES.join(', ')}, overriding data.json (default with a data set: categoricalCrossentropy)` })
      .option('eta', { type: 'number', default: 1e-3, describe: 'perturbation scale η (the step scale s of --directions descent)' })
      .option('n', { type: 'number', default: 4, describe: 'kappaX, per-example and descent directions: the first min(b, n) examples' })
      .option('directions', { type: 'string', default: 'gradient', describe: `weight-perturbation directions of kappaW, cosSimW, diversityW, coherenceW: one of ${WEIGHT_SAMPLINGS.join(', ')}` })
      .option('mask', { type: 'number', default: 1, describe: 'fraction p of coordinates kept per variable (1 = no mask)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the mask, of random directions and of the batches drawn from a data set' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"metrics": {...}, "reasons": {...}}' })
      .options(backendOption)
      .example('$0 probe --model out/model.json --data batches.json --json', 'metrics on the batches of a data.json')
      .example('$0 probe --model runs/x/checkpoint/model/model.json --data embedded --batch-size 64', 'metrics on 3 batches of the embedded Fashion-MNIST') as never,
  handler: async (args) => {
    await useBackend(args.backend, { threads: args.threads });
    const fromFile = args.data.endsWith('.json') || existsSync(args.data);
    const model = await loadModel(args.model);
    let data: ProbeData | null = null;
    try {
      data = fromFile ? readProbeData(args.data) : drawBatches(args);
      const max = parseOptions(DrawSchema.pick({ maxExamples: true }), { maxExamples: args['max-examples'] }, 'probe').maxExamples;
      const cut = subsamplesOf(data.batches, max);
      if (cut.length > 0) say(subsampleLine(cut));
      const long = data.batches.some((b) => Math.min(b.x.shape[0]!, max) > LONG_WORK_EXAMPLES);
      const result = probe(model, data, {
        loss: args.loss, eta: args.eta, n: args.n, mask: args.mask, seed: args.seed, directions: args.directions as never, maxExamples: max,
        ...(args['gram-subset'] !== undefined ? { gramSubset: args['gram-subset'] } : {}),
        ...(long ? { onProgress: say } : {}),
      });
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ metrics: result.metrics, reasons: result.reasons, ...(result.gramSubset ? { gramSubset: result.gramSubset } : {}) })}\n`);
      } else {
        const width = Math.max(...Object.keys(result.metrics).map((k) => k.length));
        for (const [name, value] of Object.entries(result.metrics)) {
          const se = result.gramSubset?.standardErrors[name];
          const shown = value === null ? `null  (${result.reasons[name]})` : `${value.toPrecision(6)}${se != null ? ` ± ${se.toPrecision(2)}` : ''}`;
          process.stdout.write(`${name.padEnd(width)}  ${shown}\n`);
        }
        const p = result.perExamplePath;
        if (p) process.stdout.write(`\nper-example gradients: ${p.path === 'batched' ? 'one batched pass' : `exact per-example loop (${p.reason})`}\n`);
        const s = result.gramSubset;
        if (s) process.stdout.write(`Gram-based metrics (±): mean and standard error over ${s.parts} disjoint random sub-batches of ${s.size} examples, estimates at batch size ${s.size}\n`);
      }
    } finally {
      for (const b of data?.batches ?? []) tf.dispose([b.x, b.y]);
      model.dispose();
    }
  },
};
