/**
 * `runExperiment(definition, dir, opts)`: one experiment, end to end, into one directory —
 *
 *     <dir>/experiment.json   the definition, every run (cell, status, error), the time estimate
 *                             and the measured time, the analysis' results and findings
 *     <dir>/report.html       the report
 *     <dir>/runs/<id>/        one run directory per run, in the trainer's format
 *
 * The grid is planned (plan.ts), its time estimated from a calibration here (estimate.ts), its
 * runs run by compare's machinery (`runResumable`: worker processes or a queue, finished runs
 * kept), then the analysis reads the runs and the report is written. An interrupted experiment
 * resumes with `resume`: only unfinished runs run again, and the analysis is redone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CompareOptions, runResumable } from '../compare/compare.js';
import { UsageError } from '../errors.js';
import { writeHtml } from '../report/write.js';
import { readManifest, readTrace, type JsonValue, type Trace } from '../trace/index.js';
import { openResumable } from '../trace/dirs.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { isFinished } from '../compare/compare.js';
import { getAnalysis } from './analyses.js';
import { type Estimate, estimateTime, formatDuration } from './estimate.js';
import { planExperiment, RUNS_DIR } from './plan.js';
import { experimentReport } from './report.js';
import type { AnalysedRun, Cell, ExperimentDefinition, PlannedExperimentRun, Variant, VariantName } from './types.js';

export const EXPERIMENT_FILE = 'experiment.json';
export const REPORT_FILE = 'report.html';

export interface ExperimentOptions extends Pick<CompareOptions, 'onProgress' | 'onFinished' | 'runner'> {
  variant: VariantName;
  jobs: number;
  resume?: boolean;
  overwrite?: boolean;
  /** Calibrate and estimate the time before running (default true). */
  estimate?: boolean;
  /** Lines for the user: the plan, the estimate, the end. */
  log?: (line: string) => void;
  /** Measure every configuration again instead of reusing this machine's recent calibrations. */
  recalibrate?: boolean;
  /** Another experiment directory whose finished runs with the same spec are copied instead of run again. */
  reuse?: string;
}

/** What experiment.json holds. */
export interface ExperimentFile {
  format: 1;
  name: string;
  variant: VariantName;
  definition: Omit<ExperimentDefinition, 'quick' | 'full'>;
  /** The variant run, as validated (defaults filled in). */
  variantDefinition: Variant;
  runs: { id: string; blocks: string[]; cell: Cell; dir: string; status: string; error: string | null }[];
  estimate: Estimate | null;
  /** Wall seconds of the last invocation's runs and analysis (the calibration not included, as in the estimate). */
  measuredSeconds: number | null;
  /** The machine: cores, and the 1-minute load average when the runs started and when they ended (other work slows the runs). */
  machine: { cores: number; loadAtStart: number; loadAtEnd: number | null };
  results: JsonValue | null;
  findings: string[];
  startedAt: string;
  finishedAt: string | null;
}

/** The experiment already in `dir` when resuming, after checking it is this one. */
function openDir(dir: string, identity: string, opts: ExperimentOptions): ExperimentFile | null {
  const old = openResumable<ExperimentFile>(dir, EXPERIMENT_FILE, 'experiment', opts);
  if (old && JSON.stringify([old.name, old.variant, old.variantDefinition]) !== identity) {
    throw new UsageError(`${dir} holds a different experiment (${old.name}, ${old.variant}): resume it with the same name and variant, or choose another --out`);
  }
  return old;
}

/**
 * Copies into `dir` every finished run of `from` whose spec (in its manifest) is the planned
 * run's: experiments 1 and 2 analyse the same runs two ways. Returns how many were copied.
 */
function reuseRuns(planned: readonly PlannedExperimentRun[], dir: string, from: string): number {
  if (!fs.existsSync(path.join(from, EXPERIMENT_FILE))) throw new UsageError(`--reuse ${from}: not an experiment directory (no ${EXPERIMENT_FILE})`);
  let copied = 0;
  for (const p of planned) {
    const mine = path.join(dir, p.dir);
    const theirs = path.join(from, RUNS_DIR, p.id);
    if (isFinished(mine) || !isFinished(theirs)) continue;
    let spec: unknown;
    try {
      // The run spec, as executeRun records it in the manifest's config (or its `extra`).
      const config = readManifest(theirs).config as { runSpec?: unknown; extra?: { runSpec?: unknown } } | null;
      spec = config?.runSpec ?? config?.extra?.runSpec;
    } catch {
      continue;
    }
    if (JSON.stringify(spec) !== JSON.stringify(p.spec)) continue;
    fs.rmSync(mine, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(mine), { recursive: true });
    fs.cpSync(theirs, mine, { recursive: true });
    copied++;
  }
  return copied;
}

/** A planned run with its outcome, as the analysis sees it (the trace read once, on demand). */
function analysed(p: PlannedExperimentRun, dir: string, result: Awaited<ReturnType<typeof runResumable>>[number]): AnalysedRun {
  let trace: Trace | null | undefined;
  return {
    ...p, outcome: result.outcome, error: result.error,
    trace: () => {
      if (trace === undefined) {
        try {
          trace = readTrace(path.join(dir, p.dir));
        } catch {
          trace = null;
        }
      }
      return trace;
    },
  };
}

export async function runExperiment(definition: ExperimentDefinition, dir: string, opts: ExperimentOptions): Promise<ExperimentFile> {
  const log = opts.log ?? (() => {});
  const variant = definition[opts.variant];
  const analysis = getAnalysis(definition.analysis);
  const planned = planExperiment(variant);
  const previous = openDir(dir, JSON.stringify([definition.name, opts.variant, variant]), opts);
  const { quick: _q, full: _f, ...meta } = definition;
  const file: ExperimentFile = {
    format: 1, name: definition.name, variant: opts.variant, definition: meta, variantDefinition: variant,
    runs: planned.map((p) => ({ id: p.id, blocks: p.blocks, cell: p.cell, dir: p.dir, status: 'pending', error: null })),
    estimate: null, measuredSeconds: null, machine: { cores: os.availableParallelism(), loadAtStart: os.loadavg()[0]!, loadAtEnd: null }, results: null, findings: [], startedAt: previous?.startedAt ?? new Date().toISOString(), finishedAt: null,
  };
  if (opts.reuse !== undefined) {
    const copied = reuseRuns(planned, dir, opts.reuse);
    log(`reused ${copied} finished run(s) with the same spec from ${opts.reuse}`);
  }
  const todo = planned.filter((p) => !isFinished(path.join(dir, p.dir)));
  log(`experiment ${definition.name} (${opts.variant}): ${planned.length} run(s)${planned.length - todo.length ? `, ${planned.length - todo.length} already finished` : ''}, on ${opts.jobs} worker(s); into ${dir}`);
  if (opts.estimate !== false) {
    file.estimate = await estimateTime(todo.map((p) => p.spec), { runs: planned.length, jobs: opts.jobs, analysisSeconds: analysis.estimateSeconds?.(variant, opts.variant), log, recalibrate: opts.recalibrate });
    log(`expected time here: ${formatDuration(file.estimate.seconds)} (${file.estimate.method}; calibration took ${formatDuration(file.estimate.calibrationSeconds)})`);
  }
  const started = performance.now();
  file.machine.loadAtStart = os.loadavg()[0]!;
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, EXPERIMENT_FILE), file);
  const results = await runResumable(planned.map((p) => ({ spec: p.spec, dir: path.join(dir, p.dir) })), opts);
  file.runs.forEach((r, i) => Object.assign(r, { status: results[i]!.outcome.status, error: results[i]!.error ?? results[i]!.outcome.reason }));
  const runs = planned.map((p, i) => analysed(p, dir, results[i]!));
  const out = await analysis.run({ definition, variant: opts.variant, dir, runs, options: variant.analysis, log });
  file.results = out.results;
  file.findings = out.findings;
  file.measuredSeconds = (performance.now() - started) / 1000;
  file.machine.loadAtEnd = os.loadavg()[0]!;
  file.finishedAt = new Date().toISOString();
  const outcomes = new Map(runs.map((r) => [r.id, r.outcome]));
  await writeHtml(experimentReport(file, dir, out.sections, outcomes), path.join(dir, REPORT_FILE));
  writeJsonAtomic(path.join(dir, EXPERIMENT_FILE), file);
  for (const f of file.findings) log(`- ${f}`);
  const load = `load average ${file.machine.loadAtStart.toFixed(1)} → ${file.machine.loadAtEnd.toFixed(1)} on ${file.machine.cores} cores`;
  log(`finished in ${formatDuration(file.measuredSeconds)}${file.estimate ? ` (expected ${formatDuration(file.estimate.seconds)}; ${load})` : ''}`);
  return file;
}
