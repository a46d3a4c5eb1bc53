/**
 * A run directory read into what its plots and tables need, reduced as it is read: every curve
 * (a per-step quantity, the validation accuracy, each sampled metric; against examples seen and
 * wall time) by the bin rule, each knob to its change points, its decisions thinned (see
 * downsample.ts). A 100k-step run keeps a few thousand numbers, not its trace, so a comparison
 * of many long runs holds one trace in memory at a time. Everything comes from the directory
 * alone (manifest, trace, summary), so a finished, resumed or remote run reads alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { outcomeOf, type RunOutcome } from '../compare/outcome.js';
import type { LifecycleEvent, PolicyDecision, StepEvent } from '../stream/types.js';
import { SUMMARY_FILE, type RunManifest, type TraceRecord } from '../trace/format.js';
import { readTrace, type Trace } from '../trace/reader.js';
import { STEP_SERIES, summarize, type RunSummary } from '../trace/summary.js';
import { binMedians, changePoints, thin, type Series } from './downsample.js';

/** The x axes a curve is drawn against: examples seen through the step, wall seconds. */
export type XAxis = 'examples' | 'wall';
export const X_AXES: readonly XAxis[] = ['examples', 'wall'];

/** The knobs a policy sets. */
export type Knob = 'learningRate' | 'batchSize';

/** How far runs are reduced (downsample.ts). */
export interface PlotLimits {
  /** Most points per line or band (per run before aggregation, per policy after). */
  maxPoints: number;
  /** Most decision points per run and knob. */
  maxDecisions: number;
}

/** A policy decision that changed a knob, at the examples seen through its step. */
export interface DecisionPoint {
  step: number;
  examples: number;
  before: number;
  after: number;
  /** The deciding policy (or composition), and why. */
  policy: string;
  reason: string;
}

export interface KnobData {
  /** The value in force from each x on (x = examples seen before the step), reduced. */
  line: Series;
  /** The decisions that changed it, thinned to at most maxDecisions. */
  decisions: DecisionPoint[];
  /** Decisions that changed it, before thinning. */
  total: number;
}

export interface HealthPoint {
  step: number | null;
  epoch: number | null;
  finding: string;
  message: string;
}

/** Per metric that was ever null: how often, out of how many samples, and the first reason given. */
export interface NullCount {
  nulls: number;
  total: number;
  reason: string;
}

/** The per-step quantities shown in the `step` group. */
export const STEP_METRICS = STEP_SERIES.filter((q) => q !== 'loss');

export interface RunData {
  dir: string;
  manifest: RunManifest;
  /** Step events read (before any reduction). */
  steps: number;
  /** Reduced curves by `curveKey`; a curve with no number is absent. */
  curves: Map<string, Series>;
  /** Metric group → its metrics in first-seen order (`step`: the step quantities with a number). */
  groups: Map<string, string[]>;
  knobs: Record<Knob, KnobData>;
  health: HealthPoint[];
  nulls: Map<string, NullCount>;
  summary: RunSummary;
  /** True when summary.json was read; false when recomputed from the trace (the run wrote none). */
  summaryFromFile: boolean;
  /** Done, diverged, dead, failed or incomplete, by the comparison's rules. */
  outcome: RunOutcome;
  /** True when the trace's last line was cut short (the writer was killed). */
  truncated: boolean;
}

/** The key of a curve: its source ('step', 'validation' or a metric group), quantity and axis. */
export const curveKey = (source: string, quantity: string, axis: XAxis): string => `${source}/${quantity}/${axis}`;

/**
 * Wall seconds from a record's wallTime (ms since the manifest's start): each resume's `start`
 * event opens a segment, and the time between the last record before it and its own wallTime
 * (the run was down) is taken off everything after, as the run summary counts wall time.
 */
function wallClock(records: readonly TraceRecord[]): (wallTimeMs: number) => number {
  const segments: { from: number; gap: number }[] = [{ from: -Infinity, gap: 0 }];
  let latest = 0;
  let starts = 0;
  for (const r of records) {
    if (r.type === 'event' && r.kind === 'start' && starts++ > 0) {
      segments.push({ from: r.wallTime, gap: segments.at(-1)!.gap + Math.max(0, r.wallTime - latest) });
    }
    latest = Math.max(latest, r.wallTime);
  }
  return (w) => {
    let gap = 0;
    for (const s of segments) if (s.from <= w) gap = s.gap;
    return (w - gap) / 1000;
  };
}

/** Curves being collected, unreduced: x per axis and y, by key. */
class Collector {
  readonly raw = new Map<string, Series>();

  add(source: string, quantity: string, at: Record<XAxis, number>, y: number | null | undefined): void {
    if (typeof y !== 'number') return;
    for (const axis of X_AXES) {
      const key = curveKey(source, quantity, axis);
      let s = this.raw.get(key);
      if (!s) this.raw.set(key, (s = { x: [], y: [] }));
      s.x.push(at[axis]);
      s.y.push(y);
    }
  }

  reduced(maxPoints: number): Map<string, Series> {
    return new Map([...this.raw].map(([k, s]) => [k, binMedians(s, maxPoints)]));
  }
}

function knobData(steps: readonly StepEvent[], before: readonly number[], updates: readonly PolicyDecision[], examplesThrough: Map<number, number>, knob: Knob, limits: PlotLimits): KnobData {
  const changed = updates.filter((u) => u.before[knob] !== u.after[knob]);
  const y = knob === 'batchSize' ? requestedBatchSizes(steps, changed) : steps.map((s) => s[knob]);
  const line = changePoints({ x: [...before], y }, limits.maxPoints);
  const decisions = thin(changed, limits.maxDecisions).map((u) => ({
    step: u.step, examples: examplesThrough.get(u.step) ?? 0, before: u.before[knob], after: u.after[knob], policy: u.policy, reason: u.reason,
  }));
  return { line, decisions, total: changed.length };
}

/**
 * The batch size in force at each step, as the policy chose it: the steps' own sizes would show
 * an epoch's short last batch (the remainder of the data) as a drop the policy never made. It is
 * the latest decision's `after` (a decision at step u applies from step u + 1), before any
 * decision the first decision's `before`, and without decisions the most common step size.
 */
function requestedBatchSizes(steps: readonly StepEvent[], changed: readonly PolicyDecision[]): number[] {
  const counts = new Map<number, number>();
  for (const s of steps) counts.set(s.batchSize, (counts.get(s.batchSize) ?? 0) + 1);
  const common = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0] ?? 0;
  let inForce = changed[0]?.before.batchSize ?? common;
  let next = 0;
  return steps.map((s) => {
    while (next < changed.length && changed[next]!.step < s.step) inForce = changed[next++]!.after.batchSize;
    return inForce;
  });
}

/** Why metrics were null, over all samples. */
function nullCounts(trace: Trace): Map<string, NullCount> {
  const nulls = new Map<string, NullCount>();
  for (const m of trace.metrics) {
    for (const [name, v] of Object.entries(m.values)) {
      const c = nulls.get(name) ?? { nulls: 0, total: 0, reason: '' };
      c.total++;
      if (v === null) {
        c.nulls++;
        c.reason ||= m.reasons[name] ?? 'no reason given';
      }
      nulls.set(name, c);
    }
  }
  return new Map([...nulls].filter(([, c]) => c.nulls > 0));
}

/** Validation as the comparison counts it: an epoch's end after `step` steps saw the examples through step − 1. */
function isValidation(e: LifecycleEvent): boolean {
  return (e.kind === 'epoch' || e.kind === ('validation' as string)) && typeof e.valAccuracy === 'number' && e.step !== undefined;
}

function readSummary(dir: string, records: readonly TraceRecord[]): { summary: RunSummary; fromFile: boolean } {
  try {
    return { summary: JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as RunSummary, fromFile: true };
  } catch {
    return { summary: summarize(records), fromFile: false };
  }
}

/** Reads and reduces a run directory (it must hold a manifest); `id` names it in its outcome. */
export function readRunData(dir: string, limits: PlotLimits, id = path.basename(dir)): RunData {
  const trace = readTrace(dir);
  const wall = wallClock(trace.records);
  const curves = new Collector();
  const examplesThrough = new Map<number, number>();
  const before: number[] = [];
  let seen = 0;
  for (const s of trace.steps) {
    before.push(seen);
    seen += s.batchSize;
    examplesThrough.set(s.step, seen);
    const at = { examples: seen, wall: wall(s.wallTime) };
    for (const q of STEP_SERIES) curves.add('step', q, at, s[q]);
  }
  const at = (step: number, wallTime: number) => ({ examples: examplesThrough.get(step) ?? 0, wall: wall(wallTime) });
  for (const e of trace.events.filter(isValidation)) curves.add('validation', 'valAccuracy', at(e.step! - 1, e.wallTime), e.valAccuracy);
  const groups = new Map<string, string[]>([['step', STEP_METRICS.filter((q) => curves.raw.has(curveKey('step', q, 'examples')))]]);
  for (const m of trace.metrics) {
    const names = groups.get(m.group) ?? [];
    groups.set(m.group, names);
    for (const [name, v] of Object.entries(m.values)) {
      if (!names.includes(name)) names.push(name);
      curves.add(m.group, name, at(m.step, m.wallTime), v);
    }
  }
  const { summary, fromFile } = readSummary(dir, trace.records);
  return {
    dir, manifest: trace.manifest, steps: trace.steps.length, curves: curves.reduced(limits.maxPoints), groups,
    knobs: {
      learningRate: knobData(trace.steps, before, trace.updates, examplesThrough, 'learningRate', limits),
      batchSize: knobData(trace.steps, before, trace.updates, examplesThrough, 'batchSize', limits),
    },
    health: trace.events.filter((e) => e.kind === 'health').map((e) => ({ step: e.step ?? null, epoch: e.epoch ?? null, finding: e.finding ?? 'unknown', message: e.message ?? '' })),
    nulls: nullCounts(trace), summary, summaryFromFile: fromFile, outcome: outcomeOf(id, dir), truncated: trace.truncated,
  };
}
