/** `gradcond bench`: the cost table (also `npm run bench`). */
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { formatTable, runBench, speedups } from '../../bench/bench.js';
import { metricGroupCase, perExampleEngineCase } from '../../bench/metricCases.js';
import { wrapperStepCase } from '../../bench/wrapperCase.js';

interface BenchArgs {
  backends: string[];
  models: string[];
  batch: number;
  runs: number;
  out: string;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Time a training step (stock vs gradcond kernels) and every metric group relative to it; writes bench-results.json',
  builder: (y) =>
    y
      .option('backends', { type: 'array', string: true, default: ['wasm', 'cpu'], describe: 'backends to compare' })
      .option('models', { type: 'array', string: true, default: ['mlp', 'cnn'], describe: 'zoo models' })
      .option('batch', { type: 'number', default: 64 })
      .option('runs', { type: 'number', default: 7, describe: 'timed runs per row (median), after warm-up' })
      .option('out', { type: 'string', default: 'bench-results.json', describe: 'JSON rows written here' }) as never,
  handler: async (args) => {
    const rows = await runBench({
      backends: args.backends, models: args.models, batch: args.batch, runs: args.runs, slowStepS: 2,
      cases: [wrapperStepCase, metricGroupCase, perExampleEngineCase],
      log: (l) => process.stderr.write(`${l}\n`),
    });
    process.stdout.write(`${formatTable(rows)}\n\n${speedups(rows).join('\n')}\n`);
    writeFileSync(args.out, `${JSON.stringify(rows, null, 2)}\n`);
    process.stdout.write(`wrote ${rows.length} rows to ${args.out}\n`);
  },
};
