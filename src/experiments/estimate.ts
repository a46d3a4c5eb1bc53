/**
 * The expected time of an experiment here, from a per-step cost model measured on this machine
 * (calibrate.ts). A run of S steps is expected to take
 *
 *     setup + S·step + Σ_groups samples(g)·sample(g) + validations·validation + test
 *
 * with samples(g) = ⌈S / every_g⌉ for a fixed cadence, and, under an overhead budget f (the
 * conditioned optimizer's default, 5%), metrics taking f/(1 − f) of the training time. The
 * experiment's wall time is the list schedule of its runs on the workers, in the order the pool
 * hands them out (each to the first worker free), plus the start of each worker process.
 */
import type { Budget, RunSpec } from '../compare/runSpec.js';
import type { SampledGroup } from '../metrics/registry.js';
import type { ConditionedOptions } from '../optimizer/options.js';
import { CACHE_DAYS, cachedCalibration, storeCalibration } from './calibrationCache.js';
import { calibrate, configKey, warmUp, sampledGroups, CALIBRATION_STEPS, PLAIN_STEPS, type Calibration, type DataCache } from './calibrate.js';

/** Starting a worker process (Node, tfjs, the wasm backend), measured at about a second here; counted as 2 s. */
export const WORKER_START_MS = 2000;

export interface Estimate {
  /** Runs planned, and those still to run. */
  runs: number;
  toRun: number;
  jobs: number;
  /** Expected wall time of what is left, seconds (runs scheduled on the workers, plus the analysis). */
  seconds: number;
  /** Sum of the runs' expected times, seconds (one core each). */
  runSeconds: number;
  /** What the analysis itself measures, seconds. */
  analysisSeconds: number;
  /** Time the calibration took, seconds. */
  calibrationSeconds: number;
  calibrations: Calibration[];
  /** Each run's expected seconds (setup to test pass), by id. */
  perRun: Record<string, number>;
  method: string;
}

/** Steps a budget allows at the run's initial batch size (null for a time budget). */
export function stepsOf(budget: Budget, batchSize: number, trainSize: number): number | null {
  switch (budget.kind) {
    case 'steps':
      return budget.value;
    case 'examples':
      return Math.ceil(budget.value / batchSize);
    case 'epochs':
      return budget.value * Math.ceil(trainSize / batchSize);
    case 'seconds':
      return null;
  }
}

/** Milliseconds of metric sampling in a run of `steps` steps of `trainMs` training. */
function metricMs(spec: RunSpec, cal: Calibration, steps: number, trainMs: number): number {
  const m = spec.metrics as ConditionedOptions;
  const groups = sampledGroups(spec);
  const perSample = (g: SampledGroup) => cal.groupMs[g] ?? 0;
  if (m.every === undefined) {
    const f = m.budget ?? 0.05;
    const everyStep = groups.reduce((s, g) => s + steps * perSample(g), 0);
    return Math.min((f / (1 - f)) * trainMs, everyStep);
  }
  const every = (g: SampledGroup) => (typeof m.every === 'number' ? m.every : m.every![g]);
  return groups.reduce((s, g) => (every(g) ? s + Math.ceil(steps / every(g)!) * perSample(g) : s), 0);
}

/** The expected milliseconds of one run, from its configuration's calibration. */
export function runMs(spec: RunSpec, cal: Calibration): number {
  const steps = stepsOf(spec.budget, spec.batchSize, cal.trainSize);
  if (steps === null) return cal.setupMs + spec.budget.value * 1000 + cal.testMs;
  const trainMs = steps * cal.stepMs;
  const epochs = Math.floor((steps * spec.batchSize) / cal.trainSize) + 1;
  const validations = (spec.validateEvery ? Math.floor(steps / spec.validateEvery) : 0) + epochs;
  return cal.setupMs + trainMs + metricMs(spec, cal, steps, trainMs) + validations * cal.validationMs + cal.testMs;
}

/** Wall milliseconds of `durations` run in order on `jobs` workers, each task to the first worker free. */
export function makespan(durations: readonly number[], jobs: number, startMs = WORKER_START_MS): number {
  if (durations.length === 0) return 0;
  const free = new Array<number>(Math.max(1, Math.min(jobs, durations.length))).fill(startMs);
  for (const d of durations) {
    let w = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[w]!) w = i;
    free[w]! += d;
  }
  return Math.max(...free);
}

export interface EstimateOptions {
  /** Runs planned in all (the finished ones are not in `specs`). */
  runs: number;
  jobs: number;
  analysisSeconds?: number;
  /** Called before each configuration is measured. */
  log?: (line: string) => void;
  /** Measure every configuration again, even those measured here in the last days (calibrationCache.ts). */
  recalibrate?: boolean;
}

/** Calibrates every configuration of `specs` (the runs still to do) and schedules them. */
export async function estimateTime(specs: readonly RunSpec[], opts: EstimateOptions): Promise<Estimate> {
  const t0 = performance.now();
  const byKey = new Map<string, { example: RunSpec; groups: Set<SampledGroup> }>();
  for (const s of specs) {
    const entry = byKey.get(configKey(s)) ?? { example: s, groups: new Set<SampledGroup>() };
    if ((s.metrics as ConditionedOptions).every !== undefined) for (const g of sampledGroups(s)) entry.groups.add(g);
    byKey.set(configKey(s), entry);
  }
  const calibrations = new Map<string, Calibration>();
  const data: DataCache = new Map();
  let cached = 0;
  let warm = false;
  for (const [key, { example, groups }] of byKey) {
    const cacheKey = JSON.stringify([key, [...groups].sort()]);
    const known = opts.recalibrate ? null : cachedCalibration(cacheKey);
    if (known) cached++;
    else opts.log?.(`calibrating ${calibrations.size + 1}/${byKey.size}: ${example.id} (${PLAIN_STEPS} steps${groups.size ? `, then ${CALIBRATION_STEPS} with ${[...groups].join(', ')} every step` : ''})`);
    if (!known && !warm) {
      await warmUp();
      warm = true;
    }
    const measured = known ?? (await calibrate(example, [...groups], data));
    if (!known) storeCalibration(cacheKey, measured);
    calibrations.set(key, { key, example: example.id, ...measured });
  }
  const durations = specs.map((s) => runMs(s, calibrations.get(configKey(s))!));
  const analysisSeconds = opts.analysisSeconds ?? 0;
  return {
    runs: opts.runs,
    toRun: specs.length,
    jobs: opts.jobs,
    seconds: makespan(durations, opts.jobs) / 1000 + analysisSeconds,
    runSeconds: durations.reduce((a, b) => a + b, 0) / 1000,
    analysisSeconds,
    calibrationSeconds: (performance.now() - t0) / 1000,
    calibrations: [...calibrations.values()],
    perRun: Object.fromEntries(specs.map((s, i) => [s.id, durations[i]! / 1000])),
    method: `per-step cost model calibrated here: each of the ${calibrations.size} distinct configuration(s) trained for ${PLAIN_STEPS} steps without metrics and ${CALIBRATION_STEPS} with its metric groups at every step (medians, warm-up left out${cached ? `; ${cached} measured here in the last ${CACHE_DAYS} days and reused` : ''}), runs scheduled on ${opts.jobs} worker(s)`,
  };
}

/** "3 min 20 s", "1 h 05 min", "42 s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
