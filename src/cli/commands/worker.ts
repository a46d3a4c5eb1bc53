/**
 * `gradcond worker --queue redis://…`: takes runs from a comparison queue on Redis and runs them
 * on this machine, `--concurrency` at a time, until stopped. Start one on every machine of a
 * sweep; `gradcond compare --queue …` submits. See src/queue/worker.ts.
 *
 * The first Ctrl-C (or SIGTERM) stops taking runs and lets those running finish and be sent; a
 * second one stops at once, and other workers continue those runs from their last checkpoint.
 */
import * as os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { createLogger, LOG_LEVELS, logger, setLogger } from '../../log.js';
import { DEFAULT_QUEUE } from '../../queue/jobs.js';
import { PASSWORD_ENV } from '../../queue/redisUrl.js';
import { defaultCacheDir, defaultDataDir, startWorker } from '../../queue/worker.js';

export interface WorkerArgs {
  queue: string;
  'queue-name': string;
  concurrency: number;
  'data-dir'?: string;
  'cache-dir'?: string;
  backend: string;
  'stall-seconds': number;
  'log-level': string;
}

export function workerBuilder(y: Argv) {
  return y
    .option('queue', { type: 'string', demandOption: true, describe: `the queue's Redis: redis://[user:password@]host[:port][/db], rediss:// for TLS (or the password in $${PASSWORD_ENV})` })
    .option('queue-name', { type: 'string', default: DEFAULT_QUEUE, describe: 'the queue to take runs from (as given to compare --queue-name)' })
    .option('concurrency', { type: 'number', default: os.availableParallelism(), defaultDescription: "the machine's cores", describe: 'runs at a time, one process (one core) each' })
    .option('data-dir', { type: 'string', describe: `data and model paths in runs resolve against this directory and must stay inside it (default ${defaultDataDir()})` })
    .option('cache-dir', { type: 'string', describe: `files received by hash, and runs in progress (default ${defaultCacheDir()})` })
    .option('backend', { choices: ['wasm', 'cpu', 'node', 'node-gpu', 'auto'], default: 'wasm', describe: 'tfjs backend of the run processes' })
    .option('stall-seconds', { type: 'number', default: 30, describe: "a run whose worker has been silent this long (killed, cut off) goes to another worker, which continues it from its last checkpoint" })
    .option('log-level', { choices: LOG_LEVELS, default: 'info' as const, describe: 'what the worker logs on stderr' });
}

/** Runs a worker until SIGINT or SIGTERM (see the module comment). */
export async function runWorker(args: WorkerArgs): Promise<void> {
  if (!(Number.isInteger(args.concurrency) && args.concurrency > 0)) throw new UsageError(`--concurrency must be a positive integer, got ${args.concurrency}`);
  const stall = args['stall-seconds'];
  if (!(Number.isFinite(stall) && stall >= 1)) throw new UsageError(`--stall-seconds must be a number ≥ 1, got ${stall}`);
  const previous = setLogger(createLogger({ level: args['log-level'] }));
  try {
    const worker = await startWorker({
      url: args.queue,
      queueName: args['queue-name'],
      concurrency: args.concurrency,
      dataDir: args['data-dir'],
      cacheDir: args['cache-dir'],
      backend: args.backend,
      lockMs: stall * 1000,
      stalledIntervalMs: (stall * 1000) / 2,
    });
    logger().info(`worker ready: queue '${args['queue-name']}' on ${worker.display}, ${args.concurrency} run(s) at a time`);
    await new Promise<void>((resolve) => {
      let signals = 0;
      const stop = () => {
        if (++signals === 1) {
          logger().info('stopping: finishing the runs in progress (signal again to stop now)');
          void worker.close().then(resolve);
        } else {
          logger().info('stopping now: other workers continue the runs in progress from their last checkpoint');
          void worker.kill().then(resolve);
        }
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  } finally {
    setLogger(previous);
  }
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'Run comparison runs from a queue on Redis (start one per machine; compare --queue submits)',
  builder: (y) => workerBuilder(y) as never,
  handler: runWorker,
};
