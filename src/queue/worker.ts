/**
 * A queue worker: takes runs from a BullMQ queue on Redis, `concurrency` at a time, each in its
 * own child process, and sends each finished run directory back through Redis. It needs no file
 * system shared with the submitter: data and model files arrive by hash (files.ts), checkpoints
 * leave as snapshots (snapshots.ts), results as bundles (bundle.ts).
 *
 * Faults. A worker that dies mid-run holds its job's lock no longer; after `lockMs` BullMQ's
 * stalled-job check gives the job to another worker, which continues from the last snapshot.
 * A run that fails in itself (a bad spec, a model that cannot train) is not retried: the job
 * fails with BullMQ's UnrecoverableError and the reason. A run process that dies (killed, out of
 * memory) is an ordinary error, retried as many times as the job's `attempts` allow.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Job as BullJob, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { FAILURE_FILE } from '../compare/outcome.js';
import type { Finished, Progress } from '../compare/pool.js';
import { FASHION_MNIST_DIR } from '../data/fashionMnist.js';
import { logger } from '../log.js';
import { hasCheckpoint } from '../trainer/checkpoint.js';
import { BundleError, pack, readDir, unpack, writeFiles } from './bundle.js';
import { ChildDied, RunProcesses } from './childRun.js';
import { openRedis } from './connection.js';
import { checkQueueName, DEFAULT_QUEUE, keys, parseJob } from './jobs.js';
import { localize, type Places } from './localize.js';
import { parseRedisUrl, type RedisTarget, scrub } from './redisUrl.js';
import { transient, watchCheckpoints } from './snapshots.js';
import { makeDirs } from '../trace/dirs.js';

export interface WorkerOptions {
  /** redis:// or rediss:// URL (redisUrl.ts). */
  url: string;
  queueName?: string;
  /** Runs at a time, one process each (default: the machine's cores). */
  concurrency?: number;
  /** Paths in specs resolve against it and must stay inside it (default /usr/share/datasets). */
  dataDir?: string;
  /** Fetched files and runs in progress (default ~/.cache/gradcond). */
  cacheDir?: string;
  /** The run processes' backend (default wasm). */
  backend?: string;
  /** How long a job's lock lasts unrenewed, and how often stalled jobs are looked for (ms; default 30 s each). */
  lockMs?: number;
  stalledIntervalMs?: number;
  /** How often a running run's directory is checked for a new checkpoint (ms; default 1000). */
  snapshotPollMs?: number;
}

export interface QueueWorker {
  /** The queue, as safe to print. */
  readonly display: string;
  /** Stops taking runs and waits for those running to finish and be sent. */
  close(): Promise<void>;
  /** Stops now: kills the runs in progress, which other workers continue from their last snapshot. */
  kill(): Promise<void>;
}

export const defaultDataDir = () => path.dirname(FASHION_MNIST_DIR);
export const defaultCacheDir = () => path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'gradcond');

/** How many times a job may be given to another worker after its worker died. */
const MAX_STALLED = 3;

interface Context {
  queue: string;
  target: RedisTarget;
  redis: Redis;
  places: Places;
  processes: RunProcesses;
  snapshotPollMs: number;
  abort: AbortController;
}

/**
 * Runs `f`; a problem with the job itself (bad data, a path outside the data directory, a damaged
 * file) refuses the job: the reason goes back as the run's failure.json and the job fails with
 * an UnrecoverableError, so it is not retried.
 */
async function refusing<T>(ctx: Context, jobId: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const e = err as Error;
    if (e.name !== 'UsageError' && !(e instanceof BundleError)) throw err;
    const message = `refused: ${scrub(e.message, ctx.target.secrets)}`;
    const failure = Buffer.from(`${JSON.stringify({ message })}\n`);
    await ctx.redis.set(keys.result(ctx.queue, jobId), pack([{ path: FAILURE_FILE, data: failure }]));
    throw new UnrecoverableError(message);
  }
}

/** Unpacks the job's snapshot, if Redis holds one, into `dir`; whether there is a checkpoint to resume. */
async function restoreSnapshot(ctx: Context, jobId: string, dir: string): Promise<boolean> {
  const packed = await ctx.redis.getBuffer(keys.snapshot(ctx.queue, jobId));
  if (packed === null) return false;
  try {
    writeFiles(unpack(packed), dir);
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    logger().warn('snapshot unreadable: the run starts over', { job: jobId, reason: err.message });
    fs.rmSync(dir, { recursive: true, force: true });
    return false;
  }
  return hasCheckpoint(dir);
}

/** Progress to the job, at most twice a second (and the run's last step). */
function progressSender(job: BullJob): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 500 && p.fraction < 1) return;
    last = now;
    job.updateProgress(p as never).catch(() => {});
  };
}

async function processJob(job: BullJob, ctx: Context): Promise<{ bytes: number }> {
  const jobId = job.id!;
  const queued = await refusing(ctx, jobId, () => parseJob(job.data));
  const spec = await refusing(ctx, jobId, () => localize(queued, ctx.redis, ctx.places));
  const dir = path.join(ctx.places.cacheDir, 'runs', `${jobId}-${process.pid}-${Date.now()}`);
  const log = logger().child({ run: spec.id, job: jobId });
  try {
    const resume = await restoreSnapshot(ctx, jobId, dir);
    log.info(resume ? 'run resumed from its snapshot' : 'run started');
    const snapshotKey = keys.snapshot(ctx.queue, jobId);
    const watcher = watchCheckpoints(dir, async (b) => void (await ctx.redis.set(snapshotKey, b)), {
      intervalMs: ctx.snapshotPollMs,
      onError: (err) => log.warn('checkpoint not sent', { reason: scrub(err.message, ctx.target.secrets) }),
    });
    let finished: Finished;
    try {
      finished = await ctx.processes.run({ spec, dir, resume }, { onProgress: progressSender(job), signal: ctx.abort.signal });
    } catch (err) {
      if (err instanceof ChildDied) log.warn('run process died', { reason: err.message });
      throw err;
    } finally {
      await watcher.stop();
    }
    if (finished.error && !fs.existsSync(path.join(dir, FAILURE_FILE))) {
      // executeRun writes failure.json for failures in training only; a run that failed before
      // (its data or model could not be loaded) failed in itself just as much.
      writeFiles([{ path: FAILURE_FILE, data: Buffer.from(`${JSON.stringify({ message: finished.error })}\n`) }], dir);
    }
    let packed: Buffer;
    try {
      packed = pack(readDir(dir, transient));
    } catch (err) {
      throw new UnrecoverableError(`the run directory cannot be sent: ${(err as Error).message}`);
    }
    await ctx.redis.set(keys.result(ctx.queue, jobId), packed);
    if (finished.error) throw new UnrecoverableError(scrub(finished.error, ctx.target.secrets));
    log.info('run finished and sent', { bytes: packed.length });
    return { bytes: packed.length };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts a worker; it runs until closed. */
export async function startWorker(opts: WorkerOptions): Promise<QueueWorker> {
  const target = parseRedisUrl(opts.url);
  const queue = checkQueueName(opts.queueName ?? DEFAULT_QUEUE);
  const places = { dataDir: path.resolve(opts.dataDir ?? defaultDataDir()), cacheDir: path.resolve(opts.cacheDir ?? defaultCacheDir()) };
  makeDirs(places.cacheDir, 'cache directory');
  const redis = await openRedis(target);
  const onError = (err: Error) => logger().warn('redis', { reason: scrub(err.message, target.secrets), queue: target.display });
  redis.on('error', onError);
  const ctx: Context = {
    queue, target, redis, places,
    processes: new RunProcesses({ GRADCOND_BACKEND: opts.backend ?? process.env.GRADCOND_BACKEND ?? 'wasm' }),
    snapshotPollMs: opts.snapshotPollMs ?? 1000,
    abort: new AbortController(),
  };
  const worker = new Worker(queue, (job) => processJob(job, ctx), {
    connection: target.options,
    concurrency: opts.concurrency ?? os.availableParallelism(),
    lockDuration: opts.lockMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: MAX_STALLED,
  });
  worker.on('error', onError);
  worker.on('failed', (job, err) => logger().warn('run failed', { job: job?.id, reason: scrub(err.message, target.secrets) }));
  await worker.waitUntilReady();
  const shut = async (force: boolean) => {
    if (force) ctx.abort.abort();
    await worker.close(force);
    ctx.processes.close();
    redis.disconnect();
  };
  return { display: target.display, close: () => shut(false), kill: () => shut(true) };
}
