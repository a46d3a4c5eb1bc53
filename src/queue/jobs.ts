/**
 * What goes through the queue, as plain validated JSON: a job is one run — its run spec, whether
 * the submitter sent a partial run to continue, and the content hashes of the files the run
 * reads (a CSV/JSON data set, a saved model), which travel separately, once, by hash. A job is
 * data, never code: a worker validates it (`parseJob`) and refuses what does not validate.
 *
 * Keys in Redis besides BullMQ's own (`<prefix>` is `gradcond`):
 *
 *     <prefix>:file:<sha256>                  a file set (bundle.ts), shared by every job naming it
 *     <prefix>:<queue>:snapshot:<jobId>       the run directory at its latest checkpoint
 *     <prefix>:<queue>:result:<jobId>         the finished run directory, until the submitter collects it
 */
import { z } from 'zod';
import { parseRunSpec, type RunSpec } from '../compare/runSpec.js';
import { UsageError } from '../errors.js';
import type { Progress } from '../compare/pool.js';

export const JOB_FORMAT = 1;
export const JOB_NAME = 'run';
export const DEFAULT_QUEUE = 'gradcond';
const PREFIX = 'gradcond';

const NAME = /^[A-Za-z0-9._-]+$/;
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a SHA-256 in hex' });

/** A file set in Redis, and the file in it that the spec names (the data file, or model.json). */
export const FileRefSchema = z.strictObject({
  sha256: Sha256,
  main: z.string().regex(NAME, { error: 'must be a plain file name' }),
  bytes: z.number().int().nonnegative(),
});
export type FileRef = z.output<typeof FileRefSchema>;

export const JobDataSchema = z.strictObject({
  format: z.literal(JOB_FORMAT),
  /** Validated on its own by parseRunSpec, so its messages are the run spec's. */
  spec: z.unknown(),
  /** The submitter uploaded a partial run (a snapshot with a checkpoint) to continue. */
  resume: z.boolean(),
  files: z.strictObject({ data: FileRefSchema.optional(), model: FileRefSchema.optional() }).default({}),
});
export type JobDataInput = z.input<typeof JobDataSchema>;

export interface Job {
  spec: RunSpec;
  resume: boolean;
  files: { data?: FileRef; model?: FileRef };
}

/** Validates a job's data; a UsageError with the first problem, in one line. */
export function parseJob(raw: unknown): Job {
  const parsed = JobDataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`job data${issue.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue.message}`);
  }
  const { spec, resume, files } = parsed.data;
  const run = parseRunSpec(spec);
  if (files.data && !(run.data.name === 'csv' || run.data.name === 'json')) throw new UsageError(`job data files.data: the run's data '${run.data.name}' reads no file`);
  if (files.model && !('path' in run.model)) throw new UsageError('job data files.model: the run builds a zoo model, it reads no model file');
  return { spec: run, resume, files };
}

/** A queue name: letters, digits, . _ - (BullMQ keys use ':' as separator). */
export function checkQueueName(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`--queue-name may hold letters, digits, and . _ - only, got "${name}"`);
  return name;
}

/** A comparison's token (one per comparison directory) and a run id name one job. */
export const jobIdOf = (token: string, runId: string): string => `${token}.${runId}`;

export const keys = {
  file: (hash: string) => `${PREFIX}:file:${hash}`,
  snapshot: (queue: string, jobId: string) => `${PREFIX}:${queue}:snapshot:${jobId}`,
  result: (queue: string, jobId: string) => `${PREFIX}:${queue}:result:${jobId}`,
};

const ProgressSchema = z.looseObject({
  id: z.string(),
  step: z.number(),
  epoch: z.number(),
  loss: z.number().nullable(),
  learningRate: z.number(),
  batchSize: z.number(),
  fraction: z.number(),
});

/** A job's progress as a worker reported it, or null when it is not a run's progress. */
export function progressOf(data: unknown): Progress | null {
  const p = ProgressSchema.safeParse(data);
  return p.success ? (p.data as Progress) : null;
}
