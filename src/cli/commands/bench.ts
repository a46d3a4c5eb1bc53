/** `gradcond bench`: the cost table (also `npm run bench`), and the engine's batch-size sweep. */
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { type BenchRow, formatTable, runBench, speedups } from '../../bench/bench.js';
import { BENCH_CASES } from '../../bench/cases.js';
import { benchExpectedStableRank } from '../../bench/expectedStableRankCase.js';
import { formatSweep, runSweep } from '../../bench/sweep.js';
import { type Clock, setClock } from '../../bench/timing.js';

interface BenchArgs {
  backends: string[];
  models: string[];
  batch: number;
  runs: number;
  out: string;
  sweep: boolean;
  sweepBatches: number[];
  sweepBackends: string[];
  clock: Clock;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Time a training step (stock vs gradcond kernels, wasm on 1 thread vs all cores), the wrapper\'s per-step numbers and every metric group relative to it, E[R(Y)]\'s sampler, then the per-example engine over batch sizes; writes bench-results.json',
  builder: (y) =>
    y
      .option('backends', { type: 'array', string: true, default: ['wasm', 'cpu'], describe: 'backends to compare' })
      .option('models', { type: 'array', string: true, default: ['mlp', 'cnn'], describe: 'zoo models' })
      .option('batch', { type: 'number', default: 64 })
      .option('runs', { type: 'number', default: 7, describe: 'timed runs per row (median), after warm-up' })
      .option('out', { type: 'string', default: 'bench-results.json', describe: 'JSON rows written here' })
      .option('sweep', { type: 'boolean', default: true, describe: 'also sweep batch sizes: per-example and input-gradient groups, with a profile per stage (--no-sweep skips it)' })
      .option('sweep-batches', { type: 'array', number: true, default: [16, 64, 256, 1024], describe: 'batch sizes of the sweep' })
      .option('sweep-backends', { type: 'array', string: true, default: ['wasm'], describe: 'backends of the sweep' })
      .option('clock', { choices: ['wall', 'cpu'] as const, default: 'wall' as Clock, describe: 'wall: elapsed time; cpu: this process\'s CPU time (steadier on a busy machine; single-threaded backends only)' })
      .check((a) => {
        const bad = (a.sweepBatches as number[]).find((b) => !(Number.isInteger(b) && b >= 2));
        if (bad !== undefined) throw new UsageError(`--sweep-batches: each must be an integer ≥ 2, got ${bad}`);
        return true;
      }) as never,
  handler: async (args) => {
    const log = (l: string) => process.stderr.write(`${l}\n`);
    setClock(args.clock);
    const rows = await runBench({
      backends: args.backends, models: args.models, batch: args.batch, runs: args.runs, slowStepS: 2,
      cases: BENCH_CASES, log,
    });
    process.stdout.write(`${formatTable(rows)}\n\n${speedups(rows).join('\n')}\n`);
    // Rows that depend on no backend or model: E[R(Y)]'s sampler, the first call at a batch size.
    const err = await benchExpectedStableRank({ runs: args.runs });
    const errRows: BenchRow[] = err.map((r) => ({ backend: 'host', model: '—', batch: r.batch, what: r.what, ms: r.ms, ratioToStep: null, ...(r.note ? { note: r.note } : {}) }));
    rows.push(...errRows);
    process.stdout.write(`\nE[R(Y)], the normaliser of rankX and rankW: the first call at a new batch size (no tfjs)\n${formatTable(errRows)}\n`);
    if (args.sweep) {
      const sweep = await runSweep({ backends: args.sweepBackends, models: args.models, batches: args.sweepBatches, runs: args.runs, log });
      rows.push(...sweep);
      process.stdout.write(`\nPer-example engine over batch sizes: ms (× one training step of the same batch)\n${formatSweep(sweep)}\n`);
    }
    writeFileSync(args.out, `${JSON.stringify(rows, null, 2)}\n`);
    process.stdout.write(`wrote ${rows.length} rows to ${args.out}\n`);
  },
};
