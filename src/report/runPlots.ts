/**
 * The plots of one or more policies' runs, shared by the comparison report (several seeds per
 * policy: median lines and min–max bands) and the run report (one run: its own points): the
 * training loss and validation accuracy against examples seen and against wall time, the
 * learning rate and batch size with the policy decisions that set them, and every metric, one
 * small-multiple plot per metric group. Runs arrive already reduced (runData.ts).
 */
import { UsageError } from '../errors.js';
import { SAMPLE_GROUPS } from '../metrics/registry.js';
import { aggregateSeeds } from './aggregate.js';
import { binSize, type Series } from './downsample.js';
import type { ReportPlot } from './doc.js';
import { curveKey, type Knob, type PlotLimits, type RunData, type XAxis } from './runData.js';

export type { PlotLimits };
import { type ColourScale, type CurveRow, type DecisionRow, type KnobRow, type MetricRow, curveSpec, knobSpec, metricGroupSpec } from './specs.js';

/** The runs of one policy, each with its seed's label. */
export interface PolicyRuns {
  policy: string;
  runs: { seed: string; data: RunData }[];
}

export const DEFAULT_LIMITS: PlotLimits = { maxPoints: 500, maxDecisions: 100 };

/** The limits asked for, defaults filled in; a limit the rules cannot keep is a UsageError. */
export function limitsOf(opts: Partial<PlotLimits>): PlotLimits {
  const limits = { maxPoints: opts.maxPoints ?? DEFAULT_LIMITS.maxPoints, maxDecisions: opts.maxDecisions ?? DEFAULT_LIMITS.maxDecisions };
  if (!(Number.isInteger(limits.maxPoints) && limits.maxPoints >= 3)) throw new UsageError(`maxPoints (--max-points) must be an integer of at least 3, got ${limits.maxPoints}`);
  if (!(Number.isInteger(limits.maxDecisions) && limits.maxDecisions >= 2)) throw new UsageError(`maxDecisions must be an integer of at least 2, got ${limits.maxDecisions}`);
  return limits;
}

const AXIS_TITLE: Record<XAxis, string> = { examples: 'examples seen', wall: 'wall time (s)' };

const manySeeds = (groups: readonly PolicyRuns[]) => groups.some((g) => g.runs.length > 1);

/** A policy's rows for one curve: one run's points as they are, several runs' median and band. */
function curveRows(policy: string, runs: readonly RunData[], key: string, limits: PlotLimits): CurveRow[] {
  const series = runs.map((r) => r.curves.get(key)).filter((s): s is Series => s !== undefined);
  if (series.length === 1) return series[0]!.x.map((x, i) => ({ policy, x, median: series[0]!.y[i]!, lo: series[0]!.y[i]!, hi: series[0]!.y[i]!, n: 1 }));
  return aggregateSeeds(series, limits.maxPoints).map((p) => ({ policy, ...p }));
}

/** How the lines were made, for the captions. */
export function reductionText(groups: readonly PolicyRuns[], limits: PlotLimits): string {
  const longest = Math.max(0, ...groups.flatMap((g) => g.runs.map((r) => r.data.steps)));
  const k = binSize(longest, limits.maxPoints);
  const reduced = k > 1
    ? ` Runs longer than ${limits.maxPoints} steps are reduced to at most ${limits.maxPoints} points: first and last step kept, the steps between in bins of k consecutive steps (here up to k = ${k}), median per bin.`
    : '';
  const seeds = manySeeds(groups)
    ? ' Line: median over the seeds; band: min–max over the seeds. Seeds are compared on the union of their x values, each interpolated linearly between its own points.'
    : '';
  return (seeds + reduced).trim();
}

function curvePlot(groups: readonly PolicyRuns[], colours: ColourScale, limits: PlotLimits, what: 'loss' | 'val', axis: XAxis): ReportPlot {
  const key = what === 'loss' ? curveKey('step', 'loss', axis) : curveKey('validation', 'valAccuracy', axis);
  const rows = groups.flatMap((g) => curveRows(g.policy, g.runs.map((r) => r.data), key, limits));
  const y = what === 'loss' ? 'training loss (batch)' : 'validation accuracy';
  return {
    title: `${what === 'loss' ? 'Training loss' : 'Validation accuracy'} against ${AXIS_TITLE[axis]}`,
    spec: curveSpec({ rows, titles: { x: AXIS_TITLE[axis], y }, colours, band: manySeeds(groups), points: what === 'val' }),
    caption: what === 'loss' ? 'Mean loss of each step\'s batch.' : 'Accuracy on the validation set at each validation.',
  };
}

/** Training loss and validation accuracy (when validated), each against examples seen and against wall time. */
export function curvePlots(groups: readonly PolicyRuns[], colours: ColourScale, limits: PlotLimits): ReportPlot[] {
  const plots = [curvePlot(groups, colours, limits, 'loss', 'examples'), curvePlot(groups, colours, limits, 'loss', 'wall')];
  if (groups.some((g) => g.runs.some((r) => r.data.curves.has(curveKey('validation', 'valAccuracy', 'examples'))))) {
    plots.push(curvePlot(groups, colours, limits, 'val', 'examples'), curvePlot(groups, colours, limits, 'val', 'wall'));
  }
  return plots;
}

const KNOB_TITLE: Record<Knob, string> = { learningRate: 'learning rate', batchSize: 'batch size' };

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+(e|$)/, '$1'));

function knobPlot(groups: readonly PolicyRuns[], colours: ColourScale, knob: Knob): ReportPlot {
  const lines: KnobRow[] = [];
  const decisions: DecisionRow[] = [];
  let shown = 0;
  let total = 0;
  for (const g of groups) {
    for (const r of g.runs) {
      const k = r.data.knobs[knob];
      k.line.x.forEach((x, i) => lines.push({ policy: g.policy, seed: r.seed, x, value: k.line.y[i]! }));
      total += k.total;
      shown += k.decisions.length;
      for (const d of k.decisions) {
        const tip = `${g.policy}${g.runs.length > 1 ? `, seed ${r.seed}` : ''}, after step ${d.step}: ${KNOB_TITLE[knob]} ${fmt(d.before)} → ${fmt(d.after)} (${d.policy}: ${d.reason})`;
        decisions.push({ policy: g.policy, seed: r.seed, x: d.examples, value: d.after, tip });
      }
    }
  }
  const values = lines.map((l) => l.value).filter((v) => v > 0);
  const logY = values.length === lines.length && values.length > 0 && Math.max(...values) >= 10 * Math.min(...values);
  const n = (v: number) => v.toLocaleString('en-US');
  const counted = total === 0 ? 'No policy decision changed it.' : `Points: the ${n(total)} policy decision(s) that changed it${shown < total ? ` (${n(shown)} shown, evenly spaced in each run)` : ''}; hover over one for its reason.`;
  const several = groups.length > 1 || manySeeds(groups);
  return {
    title: `${KNOB_TITLE[knob][0]!.toUpperCase()}${KNOB_TITLE[knob].slice(1)} ${groups.length > 1 ? 'chosen by each policy' : 'over the run'}`,
    spec: knobSpec({ lines, decisions, titles: { x: AXIS_TITLE.examples, y: KNOB_TITLE[knob] }, colours, logY }),
    caption: `${several ? 'One line per run, the' : 'The'} value in force from each point on. ${counted}`,
  };
}

/** The learning rate and the batch size over each run, with the decisions that changed them. */
export function knobPlots(groups: readonly PolicyRuns[], colours: ColourScale): ReportPlot[] {
  return [knobPlot(groups, colours, 'learningRate'), knobPlot(groups, colours, 'batchSize')];
}

/** Metric groups present in any run: `step` first, then the registry's order, then others by name. */
function groupOrder(groups: readonly PolicyRuns[]): string[] {
  const names = new Set(groups.flatMap((g) => g.runs.flatMap((r) => [...r.data.groups.keys()])));
  const known: string[] = SAMPLE_GROUPS.filter((g) => names.has(g));
  return [...known, ...[...names].filter((n) => !known.includes(n)).sort()];
}

function groupPlot(groups: readonly PolicyRuns[], colours: ColourScale, limits: PlotLimits, group: string): ReportPlot | null {
  const metrics = [...new Set(groups.flatMap((g) => g.runs.flatMap((r) => r.data.groups.get(group) ?? [])))];
  const rows: MetricRow[] = [];
  let longest = 0;
  for (const m of metrics) {
    const key = curveKey(group, m, 'examples');
    for (const g of groups) {
      const runs = g.runs.map((r) => r.data);
      longest = Math.max(longest, ...runs.map((r) => r.curves.get(key)?.x.length ?? 0));
      rows.push(...curveRows(g.policy, runs, key, limits).map((p) => ({ ...p, metric: m })));
    }
  }
  const shown = metrics.filter((m) => rows.some((r) => r.metric === m));
  if (shown.length === 0) return null;
  const never = metrics.filter((m) => !shown.includes(m));
  return {
    title: group === 'step' ? 'step: every optimizer step, free' : `${group}: sampled`,
    spec: metricGroupSpec({ rows, metrics: shown, xTitle: AXIS_TITLE.examples, colours, band: manySeeds(groups), points: longest <= 30 }),
    caption: never.length ? `Never a number (null at every sample, see the table of null metrics): ${never.join(', ')}.` : undefined,
  };
}

/** One small-multiple plot per metric group (the free per-step quantities first); groups with no number left out. */
export function metricPlots(groups: readonly PolicyRuns[], colours: ColourScale, limits: PlotLimits): ReportPlot[] {
  return groupOrder(groups).map((g) => groupPlot(groups, colours, limits, g)).filter((p): p is ReportPlot => p !== null);
}
