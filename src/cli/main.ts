/**
 * The `gradcond` command line. `main(argv)` is testable with an argv array; the process exit
 * code is set only here, at the edge (exit.ts maps every error to one line and a code).
 */
import yargs from 'yargs';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { debugWanted, exitReport } from './exit.js';
import { benchCommand } from './commands/bench.js';
import { compareCommand } from './commands/compare.js';
import { policiesCommand } from './commands/policies.js';
import { probeCommand } from './commands/probe.js';
import { reportCommand } from './commands/report.js';
import { trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';

export async function main(argv: string[]): Promise<void> {
  tf.enableProdMode(); // no debug checks and no tfjs banners on the command line
  try {
    await yargs(argv)
      .scriptName('gradcond')
      .usage('$0 <command> [options]\n\nTraining that steers itself by gradient conditioning (TensorFlow.js).')
      .command(trainCommand)
      .command(compareCommand)
      .command(reportCommand)
      .command(probeCommand)
      .command(policiesCommand)
      .command(workerCommand)
      .command(benchCommand)
      .demandCommand(1, 'name a command: see --help')
      .strict()
      .fail((msg, err) => {
        throw err ?? new UsageError(msg.replace(/\s*\n\s*/g, ' ')); // one line
      })
      .help()
      .version()
      .parseAsync();
  } catch (err) {
    const report = exitReport(err);
    const hint = report.stack && !debugWanted(argv) ? ' (GRADCOND_DEBUG=1 shows the stack)' : '';
    process.stderr.write(`gradcond: ${report.line}${hint}\n`);
    if (report.stack && !hint) process.stderr.write(`${report.stack}\n`);
    process.exitCode = report.code;
  }
}

// `node --import tsx src/cli/main.ts ...` (npm run bench, tests) runs it directly.
if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
