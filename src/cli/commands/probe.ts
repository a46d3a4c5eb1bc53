/** `gradcond probe`: the metrics of a saved model on the batches of a data.json. */
import type { CommandModule } from 'yargs';
import { tf } from '../../backend/tf.js';
import { useBackend } from '../../backend/backend.js';
import { LOSS_NAMES } from '../../engine/losses.js';
import { loadModel } from '../../models/io.js';
import { probe, readProbeData } from '../../probe.js';
import { backendOption } from '../options.js';

interface ProbeArgs {
  model: string;
  data: string;
  loss?: string;
  eta: number;
  n: number;
  mask: number;
  seed: number;
  json: boolean;
  backend: string;
}

export const probeCommand: CommandModule<object, ProbeArgs> = {
  command: 'probe',
  describe: 'Every gradient-conditioning metric of a saved model on given batches (deterministic protocol of METRICS.md)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'path to a tfjs Layers model.json (weights beside it)' })
      .option('data', { type: 'string', demandOption: true, describe: 'data.json: {"loss": NAME, "batches": [{"x": [...], "y": [...]}, ...]} (≥ 2 batches)' })
      .option('loss', { type: 'string', choices: LOSS_NAMES, describe: 'loss, overriding data.json' })
      .option('eta', { type: 'number', default: 1e-3, describe: 'perturbation scale η' })
      .option('n', { type: 'number', default: 4, describe: 'kappaX: input-gradient directions of the first min(b, n) examples' })
      .option('mask', { type: 'number', default: 1, describe: 'fraction p of coordinates kept per variable (1 = no mask)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the mask' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"metrics": {...}, "reasons": {...}}' })
      .options(backendOption)
      .example('$0 probe --model out/model.json --data batches.json --json', '') as never,
  handler: async (args) => {
    await useBackend(args.backend);
    const model = await loadModel(args.model);
    const data = readProbeData(args.data);
    try {
      const result = probe(model, data, { loss: args.loss, eta: args.eta, n: args.n, mask: args.mask, seed: args.seed });
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ metrics: result.metrics, reasons: result.reasons })}\n`);
      } else {
        const width = Math.max(...Object.keys(result.metrics).map((k) => k.length));
        for (const [name, value] of Object.entries(result.metrics)) {
          const shown = value === null ? `null  (${result.reasons[name]})` : value.toPrecision(6);
          process.stdout.write(`${name.padEnd(width)}  ${shown}\n`);
        }
        const p = result.perExamplePath;
        if (p) process.stdout.write(`\nper-example gradients: ${p.path === 'batched' ? 'one batched pass' : `exact per-example loop (${p.reason})`}\n`);
      }
    } finally {
      for (const b of data.batches) tf.dispose([b.x, b.y]);
      model.dispose();
    }
  },
};
