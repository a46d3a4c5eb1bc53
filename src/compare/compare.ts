/**
 * `compare(spec, dir)`: runs a comparison into one directory —
 *
 *     <dir>/compare.json        the spec, the runs, the table (numbers and display rows)
 *     <dir>/runs/<id>/          one run directory per (policy, seed), in the trainer's format
 *
 * Runs go to worker processes (pool.ts). An interrupted comparison resumes: finished runs are
 * kept, a run with a checkpoint continues from it, the rest start over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { SUMMARY_FILE, TraceError } from '../trace/format.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { openResumable } from '../trace/dirs.js';
import { CHECKPOINT_DIR } from '../trainer/checkpoint.js';
import { type CompareSpec, baselineOf, planRuns, type PlannedRun } from './compareSpec.js';
import { FAILURE_FILE, outcomeOf, type RunOutcome } from './outcome.js';
import type { RunSpec } from './runSpec.js';
import { type Finished, type Progress, type RunTask, runPool } from './pool.js';
import { type ComparisonTable, buildTable, tableRows } from './table.js';

export const COMPARE_FILE = 'compare.json';

export interface CompareOptions {
  jobs: number;
  resume?: boolean;
  overwrite?: boolean;
  onProgress?: (p: Progress) => void;
  onFinished?: (f: Finished, done: number, total: number) => void;
  /** Runs the tasks (default: local worker processes); the queue path replaces it. */
  runner?: (tasks: RunTask[], onProgress: (p: Progress) => void, onFinished: (f: Finished) => void) => Promise<Finished[]>;
  /** Aborting stops the local workers' runs between steps, with checkpoints (--resume continues). */
  signal?: AbortSignal;
}

export interface ComparisonFile {
  format: 1;
  spec: CompareSpec;
  runs: { id: string; policy: string; seed: number; dir: string; status: string; error: string | null }[];
  table: ComparisonTable | null;
  display: { columns: string[]; rows: string[][] } | null;
  startedAt: string;
  finishedAt: string | null;
}

/** Whether a run directory holds a finished run: done, diverged, or failed in itself. */
export function isFinished(dir: string): boolean {
  if (fs.existsSync(path.join(dir, FAILURE_FILE))) return true;
  try {
    const { status } = JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as { status?: string };
    return status === 'done' || status === 'diverged'; // 'stopped' (a signal) and 'incomplete' continue
  } catch {
    return false;
  }
}

/** A run to execute into its directory. */
export interface PlannedTask {
  spec: RunSpec;
  dir: string;
}

/** How `runResumable` runs its tasks: `CompareOptions` without the directory's own choices. */
export type RunnerOptions = Pick<CompareOptions, 'jobs' | 'onProgress' | 'onFinished' | 'runner' | 'signal'>;

/** A run's result: its outcome, read from its directory alone, and the error its runner reported. */
export interface TaskResult {
  outcome: RunOutcome;
  error: string | null;
}

/**
 * Plan → run → read, shared by comparisons and experiments: runs every task whose directory does
 * not hold a finished run (a run with a checkpoint continues from it, the rest start over), in
 * worker processes or through `opts.runner` (the queue), then reads every task's outcome from
 * its directory, in the order given. Finished runs are kept, so calling it again resumes.
 */
export async function runResumable(planned: readonly PlannedTask[], opts: RunnerOptions): Promise<TaskResult[]> {
  const tasks: RunTask[] = planned
    .filter((p) => !isFinished(p.dir))
    .map((p) => ({ spec: p.spec, dir: p.dir, resume: fs.existsSync(path.join(p.dir, CHECKPOINT_DIR)) }));
  const errors = new Map<string, string>();
  let done = planned.length - tasks.length;
  const onFinished = (f: Finished) => {
    if (f.error) errors.set(f.id, f.error);
    opts.onFinished?.(f, ++done, planned.length);
  };
  const onProgress = opts.onProgress ?? (() => {});
  if (tasks.length > 0) {
    if (opts.runner) await opts.runner(tasks, onProgress, onFinished);
    else await runPool(tasks, { jobs: opts.jobs, onProgress, onFinished, signal: opts.signal });
  }
  return planned.map((p) => ({ outcome: readOutcome(p.spec.id, p.dir, errors.get(p.spec.id)), error: errors.get(p.spec.id) ?? null }));
}

/** The run's outcome; a run that left no readable directory (its worker died first) is 'failed', with why. */
function readOutcome(id: string, dir: string, error: string | undefined): RunOutcome {
  try {
    return outcomeOf(id, dir);
  } catch (err) {
    if (!(err instanceof TraceError)) throw err;
    return {
      id, status: 'failed', reason: error ?? err.message, steps: 0, examples: 0, wallMs: 0, finalLoss: null,
      finalValAccuracy: null, bestValAccuracy: null, testLoss: null, testAccuracy: null, validation: [],
    };
  }
}

function openDir(dir: string, spec: CompareSpec, opts: CompareOptions): ComparisonFile | null {
  const old = openResumable<ComparisonFile>(dir, COMPARE_FILE, 'comparison', opts);
  if (old && JSON.stringify(old.spec) !== JSON.stringify(spec)) throw new UsageError(`${dir} holds a different comparison: resume it with the same options, or choose another --out`);
  return old;
}

export async function compare(spec: CompareSpec, dir: string, opts: CompareOptions): Promise<ComparisonFile> {
  const previous = openDir(dir, spec, opts);
  fs.mkdirSync(path.join(dir, 'runs'), { recursive: true });
  const planned = planRuns(spec);
  const runDir = (p: PlannedRun) => path.join(dir, 'runs', p.spec.id);
  const file: ComparisonFile = {
    format: 1, spec,
    runs: planned.map((p) => ({ id: p.spec.id, policy: p.policy, seed: p.seed, dir: path.relative(dir, runDir(p)), status: 'pending', error: null })),
    table: null, display: null, startedAt: previous?.startedAt ?? new Date().toISOString(), finishedAt: null,
  };
  writeJsonAtomic(path.join(dir, COMPARE_FILE), file);
  const results = await runResumable(planned.map((p) => ({ spec: p.spec, dir: runDir(p) })), opts);
  const entries = planned.map((p, i) => ({ policy: p.policy, seed: p.seed, outcome: results[i]!.outcome }));
  file.runs.forEach((r, i) => Object.assign(r, { status: entries[i]!.outcome.status, error: results[i]!.error ?? entries[i]!.outcome.reason }));
  file.table = buildTable(entries, { baseline: baselineOf(spec), targetFraction: spec.targetFraction });
  file.display = tableRows(file.table);
  file.finishedAt = new Date().toISOString();
  writeJsonAtomic(path.join(dir, COMPARE_FILE), file);
  return file;
}
