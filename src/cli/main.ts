/**
 * The `gradcond` command line. `main(argv)` is testable with an argv array; the process exit
 * code is set only here, at the edge (exit.ts maps every error to one line and a code).
 */
import yargs, { type Argv, type CommandModule } from 'yargs';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { LOG_LEVELS } from '../log.js';
import { debugWanted, printError } from './exit.js';

/** A command's module, loaded when the command runs: each command module exports one CommandModule. */
type Loader = () => Promise<Record<string, unknown>>;

/**
 * The commands: name (as the module spells `command`), one-line description, module. A command's
 * module, with everything it imports (the report's Vega, the queue's client), loads only when that
 * command runs or shows its --help: `gradcond train` with a bad flag took 2.4 s of CPU when every
 * module loaded up front, 1.6 s so. A test checks each entry against its module.
 */
export const COMMANDS: readonly { command: string; describe: string; load: Loader }[] = [
  { command: 'train', describe: 'Train a model under a policy, tracing the run (default: an MLP on the embedded Fashion-MNIST)', load: () => import('./commands/train.js') },
  { command: 'compare', describe: 'Compare policies × seeds on one task: a table of medians with a paired significance test, and every run traced', load: () => import('./commands/compare.js') },
  { command: 'experiment [name]', describe: 'Run a chapter-4 experiment (a grid of runs, resumable), analyse it, and write experiment.json and report.html', load: () => import('./commands/experiment.js') },
  { command: 'fitness', describe: 'Rank architectures at initialisation by a gradient-conditioning fitness score (or a zero-cost proxy)', load: () => import('./commands/fitness.js') },
  { command: 'report <dirs..>', describe: 'One self-contained HTML report (or SVG / PNG plots) of comparison or run directories', load: () => import('./commands/report.js') },
  { command: 'probe', describe: 'Every gradient-conditioning metric of a saved model on given batches (a deterministic protocol: docs/metrics.md)', load: () => import('./commands/probe.js') },
  { command: 'policies [name]', describe: 'List the policies: what each changes, what it reads, its options and defaults, its source', load: () => import('./commands/policies.js') },
  { command: 'worker', describe: 'Run comparison runs from a queue on Redis (start one per machine; compare --queue submits)', load: () => import('./commands/worker.js') },
  { command: 'bench', describe: 'Time a training step (stock vs gradcond kernels, wasm on 1 thread vs all cores), the wrapper\'s per-step numbers and every metric group relative to it, E[R(Y)]\'s sampler, then the per-example engine over batch sizes; writes bench-results.json', load: () => import('./commands/bench.js') },
];

/** The CommandModule a command's module exports. */
export async function commandModuleOf(load: Loader): Promise<CommandModule> {
  const found = Object.values(await load()).find((v): v is CommandModule => typeof v === 'object' && v !== null && 'command' in v && 'handler' in v);
  if (!found) throw new Error('a command module exports no CommandModule');
  return found;
}

/** A yargs command that loads its module in its builder (yargs awaits an async builder). */
function lazyCommand(entry: (typeof COMMANDS)[number]): CommandModule {
  let module: CommandModule | undefined;
  return {
    command: entry.command,
    describe: entry.describe,
    builder: async (y: Argv) => {
      module = await commandModuleOf(entry.load);
      const b = module.builder;
      return typeof b === 'function' ? (b as (y: Argv) => Argv)(y) : y.options(b ?? {});
    },
    handler: (args) => module!.handler(args),
  };
}

export async function main(argv: string[]): Promise<void> {
  tf.enableProdMode(); // no debug checks and no tfjs banners on the command line
  try {
    const level = process.env.GRADCOND_LOG_LEVEL;
    if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new UsageError(`GRADCOND_LOG_LEVEL='${level}' is not a log level: choose one of ${LOG_LEVELS.join(', ')}`);
    }
    const names = COMMANDS.map((c) => c.command.split(' ')[0]!);
    const first = argv[0];
    if (first !== undefined && !first.startsWith('-') && !names.includes(first)) throw new UsageError(`unknown command '${first}': choose one of ${names.join(', ')} (see --help)`);
    await yargs(argv)
      .scriptName('gradcond')
      .usage('$0 <command> [options]\n\nTraining that steers itself by gradient conditioning (TensorFlow.js).')
      .command(COMMANDS.map(lazyCommand))
      .demandCommand(1, 'name a command: see --help')
      .strict()
      .fail((msg, err) => {
        throw err ?? new UsageError(msg.replace(/\s*\n\s*/g, ' ')); // one line
      })
      .help()
      .version()
      .parseAsync();
  } catch (err) {
    process.exitCode = printError(err, debugWanted(argv), (t) => void process.stderr.write(t));
  }
}

// `node --import tsx src/cli/main.ts ...` (npm run bench, tests) runs it directly.
if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
