/**
 * What one finished run contributes to a comparison, read from its run directory alone (trace,
 * summary, test.json), so that a local, resumed or remote run is judged the same way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../trace/format.js';
import { readTrace } from '../trace/index.js';
import { summarize } from '../trace/summary.js';

/** A validation measurement during the run: at an epoch's end or every `validateEvery` steps. */
export interface ValidationPoint {
  step: number;
  /** Examples seen up to and including `step`. */
  examples: number;
  wallMs: number;
  valAccuracy: number;
}

export interface TestResult {
  testLoss: number | null;
  testAccuracy: number | null;
}

/**
 * How a run ended: `done`; `diverged` (a non-finite loss, gradient or update stopped it);
 * `dead` (it ran, but its loss ended where it started or above: DEAD_RULE); `failed` (an error in the run
 * itself); `incomplete` (no end: killed or still running).
 */
export type RunStatus = 'done' | 'diverged' | 'dead' | 'failed' | 'incomplete';

export interface RunOutcome {
  id: string;
  status: RunStatus;
  reason: string | null;
  steps: number;
  examples: number;
  wallMs: number;
  finalLoss: number | null;
  finalValAccuracy: number | null;
  bestValAccuracy: number | null;
  testLoss: number | null;
  testAccuracy: number | null;
  validation: ValidationPoint[];
}

export const TEST_FILE = 'test.json';
export const FAILURE_FILE = 'failure.json';

/** The stated rule for a dead run (see RunStatus). */
export const DEAD_RULE = 'the median training loss over the last quarter of the steps, or the last epoch\'s mean training loss, is at least the first step\'s loss';

function dead(losses: number[], finalLoss: number | null): boolean {
  if (losses.length < 8) return false;
  const tail = losses.slice(Math.floor(0.75 * losses.length)).sort((a, b) => a - b);
  return tail[tail.length >> 1]! >= losses[0]! || (finalLoss !== null && finalLoss >= losses[0]!);
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** A run that left no trace: failed before it started (failure.json says why), or never ran. */
function untraced(id: string, failure: { message: string } | null): RunOutcome {
  return {
    id, status: failure ? 'failed' : 'incomplete', reason: failure?.message ?? 'no trace: the run never started',
    steps: 0, examples: 0, wallMs: 0, finalLoss: null, finalValAccuracy: null, bestValAccuracy: null, testLoss: null, testAccuracy: null, validation: [],
  };
}

export function outcomeOf(id: string, dir: string): RunOutcome {
  const failure = readJson<{ message: string }>(path.join(dir, FAILURE_FILE));
  if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) return untraced(id, failure);
  const trace = readTrace(dir);
  const summary = summarize(trace.records);
  const test = readJson<TestResult>(path.join(dir, TEST_FILE));
  let examples = 0;
  const seen = new Map<number, { examples: number; wallMs: number }>();
  const losses: number[] = [];
  for (const s of trace.steps) {
    examples += s.batchSize;
    seen.set(s.step, { examples, wallMs: s.wallTime });
    if (s.loss !== null) losses.push(s.loss);
  }
  const validation: ValidationPoint[] = [];
  for (const e of trace.events) {
    if ((e.kind !== 'epoch' && e.kind !== ('validation' as string)) || typeof e.valAccuracy !== 'number' || e.step === undefined) continue;
    const at = seen.get(e.step - 1) ?? { examples: 0, wallMs: 0 };
    validation.push({ step: e.step, examples: at.examples, wallMs: e.wallTime, valAccuracy: e.valAccuracy });
  }
  let status: RunStatus = failure ? 'failed' : summary.status === 'diverged' ? 'diverged' : summary.status === 'incomplete' ? 'incomplete' : 'done';
  if (status === 'done' && dead(losses, summary.loss.final)) status = 'dead';
  const accuracies = validation.map((v) => v.valAccuracy);
  return {
    id, status,
    reason: failure?.message ?? summary.stopReason ?? (status === 'dead' ? DEAD_RULE : null),
    steps: summary.steps, examples: summary.examples, wallMs: summary.wallTimeMs,
    finalLoss: summary.loss.final ?? losses.at(-1) ?? null,
    finalValAccuracy: accuracies.at(-1) ?? null,
    bestValAccuracy: accuracies.length ? Math.max(...accuracies) : null,
    testLoss: test?.testLoss ?? null,
    testAccuracy: test?.testAccuracy ?? null,
    validation,
  };
}

/** The first validation point at or above `target`, if any. */
export function firstReaching(o: RunOutcome, target: number): ValidationPoint | null {
  return o.validation.find((v) => v.valAccuracy >= target) ?? null;
}
