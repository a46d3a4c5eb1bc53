/**
 * The summary of a run, as a pure function of its trace records: the trainer writes it as
 * `summary.json` when a run ends, and a report or a remote worker recomputes the same summary
 * from `trace.jsonl` alone (`summarize(readTrace(dir).records)`).
 *
 * `SummaryBuilder` folds records one at a time and keeps only numbers (a few per step), so a
 * long run does not hold its records in memory; `summarize(records)` is that fold. Resumed runs
 * read as one history, with the same rule as the reader's `traceView`: a `start` event at step N
 * drops what was recorded for steps ≥ N before it (the replay replaces it).
 */
import type { EpochEvent, LifecycleEvent, MetricSample, PolicyDecision, StepEvent } from '../stream/types.js';
import type { TraceRecord } from './format.js';

/** First, median and last value of one quantity over the run, and its trend. */
export interface SeriesSummary {
  /** 'step' for the per-step quantities of step events, else the metric group that sampled it. */
  source: string;
  /** Steps (or samples) where the value was a number. */
  count: number;
  /** Steps (or samples) where it was null. */
  nulls: number;
  first: number | null;
  median: number | null;
  last: number | null;
  /**
   * Relative change over the run along the least-squares line of value against step:
   * slope × (last step − first step) / |median|. Null with a reason (`trendReason`) when fewer
   * than 3 values, all at one step, or a median of 0.
   */
  trend: number | null;
  /** 'up' / 'down' when |trend| > TREND_FLAT, else 'flat'; null when the trend is. */
  direction: 'up' | 'down' | 'flat' | null;
  trendReason?: string;
}

/** One metric group's sampling over the run. */
export interface GroupSummary {
  samples: number;
  /** Mean gap between consecutive sampled steps, in steps; null with fewer than 2 samples. */
  interval: number | null;
  /** Sum of the samples' durationMs. */
  durationMs: number;
}

/** Final and best value of one end-of-epoch quantity; null when never measured. */
export interface FinalBest {
  final: number | null;
  best: number | null;
}

export interface HealthEntry {
  finding: string;
  step: number | null;
  epoch: number | null;
  message: string;
}

export interface RunSummary {
  /** Version of this format. */
  format: 1;
  /**
   * 'done' (an `end` event), 'diverged' (stopped by a 'diverged' finding), 'stopped' (any other
   * `stop`: a signal, a dead gradient) or 'incomplete' (no end or stop: killed, or still running).
   */
  status: 'done' | 'diverged' | 'stopped' | 'incomplete';
  /** The `stop` event's message; null unless stopped or diverged. */
  stopReason: string | null;
  /** Step events recorded (a diverged run's last step included). */
  steps: number;
  /** Epochs completed (epoch events). */
  epochs: number;
  /** Examples seen: sum of the steps' batch sizes. */
  examples: number;
  /**
   * Milliseconds the run's processes ran: for each start (first or resume), from its wallTime to
   * the last record before the next start, summed. Time between a kill and a resume is not in it.
   */
  wallTimeMs: number;
  /** Training loss and accuracy (means over an epoch's examples), validation loss and accuracy. */
  loss: FinalBest;
  accuracy: FinalBest;
  valLoss: FinalBest;
  valAccuracy: FinalBest;
  /** Per quantity: the step events' numbers and every metric sampled. */
  metrics: Record<string, SeriesSummary>;
  /** Per metric group sampled. */
  groups: Record<string, GroupSummary>;
  /** Time spent on metric groups (sum of durationMs) and its fraction of wallTimeMs. */
  metricTimeMs: number;
  metricTimeFraction: number | null;
  /** Policy decisions that changed a knob (`update` records). */
  policyUpdates: number;
  health: HealthEntry[];
  /** Things the user should know, each with the option that fixes it where there is one. */
  warnings: string[];
}

export interface SummaryOptions {
  /** Metric groups the run enabled: a group never sampled is a warning. */
  groups?: readonly string[];
}

/** |trend| at or below this is 'flat'. */
export const TREND_FLAT = 0.05;

/** The numeric fields of step events that the summary follows. */
export const STEP_SERIES = ['loss', 'gradNorm', 'paramNorm', 'updateNorm', 'kappaWStep', 'gradDotPrevGrad', 'gradDotPrevUpdate'] as const;

/** (step, value) pairs of one quantity, in step order; nulls counted apart. */
class Series {
  readonly steps: number[] = [];
  readonly values: number[] = [];
  /** Steps at which the value was null. */
  readonly nullSteps: number[] = [];
  /** The reason given for the first null, if any. */
  reason: string | undefined;

  constructor(readonly source: string) {}

  add(step: number, value: number | null, reason?: string): void {
    if (value === null || !Number.isFinite(value)) {
      this.nullSteps.push(step);
      this.reason ??= reason;
    } else {
      this.steps.push(step);
      this.values.push(value);
    }
  }

  /** Drops the entries of steps ≥ `from` (they are at the end: steps only grow). */
  cut(from: number): void {
    while (this.steps.length && this.steps.at(-1)! >= from) {
      this.steps.pop();
      this.values.pop();
    }
    while (this.nullSteps.length && this.nullSteps.at(-1)! >= from) this.nullSteps.pop();
  }
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Least-squares slope of y against x, centred (two passes) for accuracy; null when x is constant. */
export function olsSlope(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

function trendOf(steps: readonly number[], values: readonly number[], mid: number): Pick<SeriesSummary, 'trend' | 'direction' | 'trendReason'> {
  const none = (trendReason: string) => ({ trend: null, direction: null, trendReason });
  if (values.length < 3) return none(`${values.length} value(s): a trend needs 3`);
  const slope = olsSlope(steps, values);
  if (slope === null) return none('every value is at one step');
  if (mid === 0) return none('the median is 0: no scale for a relative change');
  const trend = (slope * (steps.at(-1)! - steps[0]!)) / Math.abs(mid);
  return { trend, direction: Math.abs(trend) <= TREND_FLAT ? 'flat' : trend > 0 ? 'up' : 'down' };
}

function summarizeSeries(s: Series): SeriesSummary {
  const n = s.values.length;
  const mid = n ? median(s.values) : null;
  return {
    source: s.source,
    count: n,
    nulls: s.nullSteps.length,
    first: n ? s.values[0]! : null,
    median: mid,
    last: n ? s.values.at(-1)! : null,
    ...(mid === null ? { trend: null, direction: null, trendReason: 'no value' } : trendOf(s.steps, s.values, mid)),
  };
}

/** An end-of-epoch (or end-of-run) measurement: the numbers `loss`/`valLoss`… of a lifecycle event. */
type Evaluation = Pick<LifecycleEvent, 'kind' | 'step' | 'epoch' | 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy'>;

function finalBest(evals: readonly Evaluation[], key: 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy', better: 'min' | 'max'): FinalBest {
  const xs = evals.map((e) => e[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (!xs.length) return { final: null, best: null };
  return { final: xs.at(-1)!, best: better === 'min' ? Math.min(...xs) : Math.max(...xs) };
}

function hasNumbers(e: LifecycleEvent): boolean {
  return [e.loss, e.accuracy, e.valLoss, e.valAccuracy].some((v) => typeof v === 'number');
}

/** Folds trace records into a RunSummary; see the module comment. */
export class SummaryBuilder {
  private readonly series = new Map<string, Series>();
  private readonly groupSteps = new Map<string, Series>();
  private readonly evaluations: Evaluation[] = [];
  private readonly epochEvents: EpochEvent[] = [];
  private readonly health: (HealthEntry & { at: number })[] = [];
  private updates: PolicyDecision[] = [];
  private batchSizes: number[] = [];
  private last: LifecycleEvent | null = null;
  /** Finished process lifetimes, and the current one's start and latest wallTime. */
  private pastMs = 0;
  private segmentStart: number | null = null;
  private latestWall = 0;

  /** Adds one record. */
  add(r: TraceRecord): void {
    if (r.type === 'event' && r.kind === 'start') this.newSegment(r.wallTime);
    this.latestWall = Math.max(this.latestWall, r.wallTime);
    if (r.type === 'step') this.addStep(r);
    else if (r.type === 'metric') this.addSample(r);
    else if (r.type === 'update') this.updates.push(r);
    else this.addEvent(r);
  }

  /** The epoch events kept (a resumed run's replay replacing what it redid), in order. */
  get epochs(): readonly EpochEvent[] {
    return this.epochEvents;
  }

  private seriesOf(name: string, source: string): Series {
    let s = this.series.get(name);
    if (!s) this.series.set(name, (s = new Series(source)));
    return s;
  }

  private addStep(e: StepEvent): void {
    for (const k of STEP_SERIES) this.seriesOf(k, 'step').add(e.step, e[k] ?? null);
    this.batchSizes[e.step] = e.batchSize;
  }

  private addSample(s: MetricSample): void {
    let g = this.groupSteps.get(s.group);
    if (!g) this.groupSteps.set(s.group, (g = new Series(s.group)));
    g.add(s.step, s.durationMs);
    for (const [name, v] of Object.entries(s.values)) this.seriesOf(name, s.group).add(s.step, v, s.reasons[name]);
  }

  private addEvent(e: LifecycleEvent): void {
    if (e.kind === 'start' && e.step !== undefined) this.cut(e.step);
    if (e.kind === 'epoch' && e.step !== undefined && e.epoch !== undefined) this.epochEvents.push(e as EpochEvent);
    if (e.kind === 'health') {
      this.health.push({ finding: e.finding ?? 'unknown', step: e.step ?? null, epoch: e.epoch ?? null, message: e.message ?? '', at: e.step ?? -1 });
    }
    if (hasNumbers(e) || e.kind === 'epoch') this.evaluations.push(e);
    if (e.kind !== 'health') this.last = e;
  }

  /** A process (re)starts the run at `wallTime`: the previous one's time is done. */
  private newSegment(wallTime: number): void {
    if (this.segmentStart !== null) this.pastMs += Math.max(0, this.latestWall - this.segmentStart);
    this.segmentStart = wallTime;
    this.latestWall = wallTime;
  }

  /** A resume at step `from`: forget what it replays (same rule as the reader's traceView). */
  private cut(from: number): void {
    for (const s of [...this.series.values(), ...this.groupSteps.values()]) s.cut(from);
    this.batchSizes.length = Math.min(this.batchSizes.length, from);
    this.updates = this.updates.filter((u) => u.step < from);
    const keep = (e: Evaluation) => e.step === undefined || (e.kind === 'epoch' ? e.step <= from : true);
    const kept = this.evaluations.filter(keep);
    this.evaluations.length = 0;
    this.evaluations.push(...kept);
    const epochs = this.epochEvents.filter(keep);
    this.epochEvents.length = 0;
    this.epochEvents.push(...(epochs as EpochEvent[]));
    const health = this.health.filter((h) => h.at < from);
    this.health.length = 0;
    this.health.push(...health);
  }

  /** The summary of everything added so far. */
  result(opts: SummaryOptions = {}): RunSummary {
    const wallTimeMs = this.pastMs + (this.segmentStart === null ? this.latestWall : Math.max(0, this.latestWall - this.segmentStart));
    const groups: Record<string, GroupSummary> = {};
    let metricTimeMs = 0;
    for (const [name, s] of this.groupSteps) {
      if (s.steps.length === 0) continue; // its samples were all replayed away by a resume
      const durationMs = s.values.reduce((a, b) => a + b, 0);
      metricTimeMs += durationMs;
      const n = s.steps.length;
      groups[name] = { samples: n, interval: n >= 2 ? (s.steps.at(-1)! - s.steps[0]!) / (n - 1) : null, durationMs };
    }
    const kept = [...this.series].filter(([, s]) => s.values.length + s.nullSteps.length > 0);
    const metrics = Object.fromEntries(kept.map(([name, s]) => [name, summarizeSeries(s)]));
    const steps = this.series.get('loss')?.steps.length ?? 0;
    const stepCount = steps + (this.series.get('loss')?.nullSteps.length ?? 0);
    const last = this.last;
    const diverged = last?.kind === 'stop' && this.health.some((h) => h.finding === 'diverged');
    return {
      format: 1,
      status: last?.kind === 'end' ? 'done' : last?.kind === 'stop' ? (diverged ? 'diverged' : 'stopped') : 'incomplete',
      stopReason: last?.kind === 'stop' ? (last.message ?? null) : null,
      steps: stepCount,
      epochs: this.epochEvents.length,
      examples: this.batchSizes.reduce((a, b) => a + (b ?? 0), 0),
      wallTimeMs,
      loss: finalBest(this.evaluations, 'loss', 'min'),
      accuracy: finalBest(this.evaluations, 'accuracy', 'max'),
      valLoss: finalBest(this.evaluations, 'valLoss', 'min'),
      valAccuracy: finalBest(this.evaluations, 'valAccuracy', 'max'),
      metrics,
      groups,
      metricTimeMs,
      metricTimeFraction: wallTimeMs > 0 ? metricTimeMs / wallTimeMs : null,
      policyUpdates: this.updates.length,
      health: this.health.map(({ at: _at, ...h }) => h),
      warnings: this.warnings(opts, stepCount),
    };
  }

  private warnings(opts: SummaryOptions, steps: number): string[] {
    const out: string[] = [];
    for (const g of opts.groups ?? []) {
      if (!this.groupSteps.get(g)?.steps.length) {
        out.push(`metric group '${g}' was enabled but never sampled in ${steps} steps: give the metrics a larger --budget, or sample every k steps with --every k`);
      }
    }
    for (const [name, s] of this.series) {
      if (s.source !== 'step' && s.values.length === 0 && s.nullSteps.length > 0) {
        out.push(`metric '${name}' was null at every sample (${s.nullSteps.length}): ${s.reason ?? 'no reason given'}`);
      }
    }
    if (this.last === null || (this.last.kind !== 'end' && this.last.kind !== 'stop')) {
      out.push('the trace has no end or stop event: the run was killed or is still running (continue it with --resume)');
    }
    return out;
  }
}

/** The summary of a run's trace records (file order, as `readTrace(dir).records`). */
export function summarize(records: Iterable<TraceRecord>, opts: SummaryOptions = {}): RunSummary {
  const b = new SummaryBuilder();
  for (const r of records) b.add(r);
  return b.result(opts);
}

const f4 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));

function finalAndBest(label: string, fb: FinalBest): string | null {
  return fb.final === null ? null : `${label} ${f4(fb.final)} (best ${f4(fb.best)})`;
}

/**
 * A short human version of a summary, one line each: outcome and counts; losses and accuracies;
 * metric time and groups; then every health finding and warning.
 */
const num = (x: number | null): string => (x === null ? '—' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toPrecision(4));

/** Per sampled metric: first, median and last value, and the trend (docs/metrics.md says what each means). */
function metricTable(s: RunSummary): string[] {
  const rows = Object.entries(s.metrics)
    .filter(([, m]) => m.source !== 'step' && m.count > 0)
    .map(([name, m]) => [name, m.source, num(m.first), num(m.median), num(m.last), m.direction === null ? '—' : `${m.direction} ${num(m.trend)}`, String(m.count)]);
  if (!rows.length) return [];
  const head = ['metric', 'group', 'first', 'median', 'last', 'trend', 'samples'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`;
  return [line(head), ...rows.map(line)];
}

export function formatSummary(s: RunSummary): string[] {
  // A diverged run's reason is its health line below.
  const outcome = s.status === 'stopped' ? `stopped (${s.stopReason ?? 'no reason given'})` : s.status;
  const lines = [`${outcome}: ${s.steps} steps, ${s.epochs} epochs, ${s.examples} examples in ${(s.wallTimeMs / 1000).toFixed(1)} s`];
  const results = [
    finalAndBest('loss', s.loss),
    finalAndBest('acc', s.accuracy),
    finalAndBest('val_loss', s.valLoss),
    finalAndBest('val_acc', s.valAccuracy),
  ].filter((x): x is string => x !== null);
  if (results.length) lines.push(results.join(', '));
  const groups = Object.entries(s.groups).map(([g, v]) => `${g} ×${v.samples}${v.interval !== null ? ` every ${v.interval.toFixed(1)} steps` : ''}`);
  const share = s.metricTimeFraction === null ? '' : ` (${(100 * s.metricTimeFraction).toFixed(1)}% of wall time)`;
  lines.push(`metrics: ${(s.metricTimeMs / 1000).toFixed(2)} s${share}${groups.length ? `; ${groups.join(', ')}` : ''}; ${s.policyUpdates} policy update(s)`);
  lines.push(...metricTable(s));
  for (const h of s.health) lines.push(`health: ${h.message}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines;
}
