/**
 * The submitting side of a sweep: `queueRunner(opts)` is a `runner` for compare() that puts the
 * comparison's runs on a BullMQ queue instead of running them here, shows their progress as the
 * workers report it, and writes each finished run's directory where a local run would have
 * written it. compare() then builds the same compare.json and table as for a local comparison.
 *
 * Jobs are named by the comparison (a token kept in `<dir>/queue.json`) and the run id, so an
 * interrupted submitter re-attaches with `compare --resume --queue …`: a job already queued is
 * waited for, not queued twice, and finished results stay in Redis until they are collected.
 * Results arrive by the queue's events and, in case one is missed (a Redis restart), by polling.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CompareOptions } from '../compare/compare.js';
import type { Finished, Progress, RunTask } from '../compare/pool.js';
import type { RunSpec } from '../compare/runSpec.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { pack, replaceDir, unpack } from './bundle.js';
import { openRedis } from './connection.js';
import { dataFileSet, modelFileSet, uploadFileSet } from './files.js';
import { checkQueueName, DEFAULT_QUEUE, type FileRef, JOB_FORMAT, JOB_NAME, type JobDataInput, jobIdOf, keys, progressOf } from './jobs.js';
import { parseRedisUrl, type RedisTarget, scrub } from './redisUrl.js';
import { readSnapshot } from './snapshots.js';
import { makeDirs } from '../trace/dirs.js';

export type Runner = NonNullable<CompareOptions['runner']>;

export const QUEUE_FILE = 'queue.json';

export interface QueueRunnerOptions {
  /** redis:// or rediss:// URL (redisUrl.ts). */
  url: string;
  queueName?: string;
  /** The comparison directory: its queue.json names the comparison's jobs. */
  compareDir: string;
  /** Lines for the user (URLs in them are redacted). */
  log?: (line: string) => void;
  /** How often unfinished jobs are checked besides the queue's events (ms, default 2000). */
  pollMs?: number;
  /** Tries per job when a worker's run process dies (a run that fails in itself is never retried); default 3. */
  attempts?: number;
}

interface Session {
  name: string;
  target: RedisTarget;
  token: string;
  queue: Queue;
  redis: Redis;
  attempts: number;
}

/** The comparison's token, made on first use: the same directory re-attaches to the same jobs. */
function comparisonToken(dir: string, name: string, display: string): string {
  const file = path.join(dir, QUEUE_FILE);
  try {
    const { token } = JSON.parse(fs.readFileSync(file, 'utf8')) as { token?: unknown };
    if (typeof token === 'string' && /^[0-9a-f]{16}$/.test(token)) return token;
  } catch {
    // none yet
  }
  const token = randomBytes(8).toString('hex');
  makeDirs(dir, 'comparison directory');
  writeJsonAtomic(file, { format: 1, token, queue: name, redis: display, createdAt: new Date().toISOString() });
  return token;
}

/** The files a run reads, uploaded once per path (memo) by content hash. */
async function filesOf(spec: RunSpec, redis: Redis, memo: Map<string, Promise<FileRef>>): Promise<JobDataInput['files']> {
  const once = (key: string, f: () => Promise<FileRef>) => memo.get(key) ?? memo.set(key, f()).get(key)!;
  const d = spec.data;
  const data = d.name === 'csv' || d.name === 'json' ? await once(`data:${path.resolve(d.file)}`, () => uploadFileSet(redis, dataFileSet(d.file))) : undefined;
  const m = spec.model;
  const model = 'path' in m ? await once(`model:${path.resolve(m.path)}`, () => uploadFileSet(redis, modelFileSet(m.path))) : undefined;
  return { ...(data ? { data } : {}), ...(model ? { model } : {}) };
}

/** Queues a task unless its job exists; a resumed task's partial run goes along as its snapshot. */
async function enqueue(s: Session, task: RunTask, files: JobDataInput['files']): Promise<boolean> {
  const jobId = jobIdOf(s.token, task.spec.id);
  if (await s.queue.getJob(jobId)) return false;
  const snapshot = task.resume ? readSnapshot(task.dir) : null;
  if (snapshot) await s.redis.set(keys.snapshot(s.name, jobId), pack(snapshot));
  const data: JobDataInput = { format: JOB_FORMAT, spec: task.spec, resume: snapshot !== null, files };
  await s.queue.add(JOB_NAME, data, { jobId, attempts: s.attempts, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false });
  return true;
}

/**
 * A finished job's run directory written to `task.dir`, its keys and job removed; 'pending'
 * while it runs, 'lost' when the queue no longer knows it.
 */
async function collect(s: Session, task: RunTask): Promise<Finished | 'pending' | 'lost'> {
  const jobId = jobIdOf(s.token, task.spec.id);
  const job = await s.queue.getJob(jobId);
  if (!job) return 'lost';
  const state = await job.getState();
  if (state !== 'completed' && state !== 'failed') return 'pending';
  const resultKey = keys.result(s.name, jobId);
  const packed = await s.redis.getBuffer(resultKey);
  let error = state === 'failed' ? scrub(job.failedReason || 'the job failed', s.target.secrets) : null;
  if (packed) {
    try {
      replaceDir(unpack(packed), task.dir);
    } catch (err) {
      error = `the run's result could not be written: ${(err as Error).message}`;
    }
  } else if (state === 'completed') {
    error = "the worker's result is missing from Redis";
  }
  await s.redis.del(resultKey, keys.snapshot(s.name, jobId));
  await job.remove().catch(() => {});
  return { id: task.spec.id, error };
}

/** Waits for every task's job, collecting each as it finishes. */
function waitAll(s: Session, events: QueueEvents, tasks: RunTask[], on: { progress: (p: Progress) => void; finished: (f: Finished) => void; log: (l: string) => void }, pollMs: number): Promise<Finished[]> {
  const pending = new Map(tasks.map((t) => [jobIdOf(s.token, t.spec.id), t]));
  const checking = new Set<string>();
  const results: Finished[] = [];
  return new Promise((resolve, reject) => {
    const check = async (ids: string[]) => {
      for (const id of ids) {
        const task = pending.get(id);
        if (!task || checking.has(id)) continue;
        checking.add(id);
        try {
          const r = await collect(s, task);
          if (r === 'lost') {
            on.log(`${task.spec.id}: its job is gone from the queue (did Redis lose its data?): queued again`);
            await enqueue(s, { ...task, resume: false }, await filesOf(task.spec, s.redis, new Map())); // re-uploads lost files
          } else if (r !== 'pending') {
            pending.delete(id);
            results.push(r);
            on.finished(r);
          }
        } finally {
          checking.delete(id);
        }
      }
      if (pending.size === 0) done();
    };
    const fail = (err: unknown) => {
      clearInterval(timer);
      reject(err);
    };
    const timer = setInterval(() => void check([...pending.keys()]).catch(fail), pollMs);
    const done = () => {
      clearInterval(timer);
      resolve(results);
    };
    events.on('progress', ({ jobId, data }) => {
      const p = pending.has(jobId) ? progressOf(data) : null;
      if (p) on.progress(p);
    });
    events.on('completed', ({ jobId }) => void check([jobId]).catch(fail));
    events.on('failed', ({ jobId }) => void check([jobId]).catch(fail));
    void check([...pending.keys()]).catch(fail);
  });
}

/** compare()'s runner through the queue (see the module comment). */
export function queueRunner(opts: QueueRunnerOptions): Runner {
  return async (tasks, onProgress, onFinished) => {
    const target = parseRedisUrl(opts.url);
    const name = checkQueueName(opts.queueName ?? DEFAULT_QUEUE);
    const log = opts.log ?? (() => {});
    const redis = await openRedis(target);
    const warn = (err: Error) => log(`redis: ${scrub(err.message, target.secrets)}`);
    redis.on('error', warn);
    const queue = new Queue(name, { connection: target.options });
    const events = new QueueEvents(name, { connection: target.options });
    queue.on('error', warn);
    events.on('error', warn);
    try {
      await events.waitUntilReady();
      const s: Session = { name, target, token: comparisonToken(opts.compareDir, name, target.display), queue, redis, attempts: opts.attempts ?? 3 };
      const memo = new Map<string, Promise<FileRef>>();
      let queued = 0;
      for (const task of tasks) if (await enqueue(s, task, await filesOf(task.spec, redis, memo))) queued++;
      log(`${queued} run(s) queued, ${tasks.length - queued} already in the queue, on ${target.display} (queue '${name}'); workers: gradcond worker --queue ${target.display}${name === DEFAULT_QUEUE ? '' : ` --queue-name ${name}`}`);
      return await waitAll(s, events, tasks, { progress: onProgress, finished: onFinished, log }, opts.pollMs ?? 2000);
    } finally {
      await events.close();
      await queue.close();
      redis.disconnect();
    }
  };
}
