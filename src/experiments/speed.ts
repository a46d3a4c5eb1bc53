/**
 * Experiment 2's analysis, "metric against training speed" (the thesis, figures 2.6, 3.4, 3.8, 3.10,
 * 3.13, 3.17, 3.20, 4.5, 4.7, 4.9). Per run, from its smoothed loss (smoothing.ts): the point of
 * steepest descent with the best sustained rate of decrease, the point of lowest loss, and the
 * final loss. Per metric, its value at each point against each target — four pairs — with
 * Spearman's ρ and a percentile bootstrap 95% interval (stats.ts) that resamples networks, not
 * runs, since the seeds of one network are not independent. Plots show the two pairs the thesis
 * draws (at steepest descent against the rate; at lowest loss against the final loss), ρ and its
 * interval in each title; a table gives all pairs.
 */
import { z } from 'zod';
import type { MetricName } from '../metrics/registry.js';
import type { ReportPlot, Section } from '../report/doc.js';
import { thin } from '../report/downsample.js';
import type { JsonValue } from '../trace/index.js';
import { parseOptions } from '../validation.js';
import { lineSpec, scatterSpec, type LineRow, type ScatterRow } from './plots.js';
import { lossSeries, metricSeries, metricsOption, networkLabeller, readableRuns, sig } from './series.js';
import { descentPoints, valueNear, type DescentPoints } from './smoothing.js';
import { excludesZero, formatCorrelation, spearmanInterval, type Correlation } from './stats.js';
import type { Analysis, AnalysisInput, AnalysisResult, AnalysedRun } from './types.js';

const OptionsSchema = z.strictObject({
  metrics: z.array(z.string()).optional(),
  /** Steps averaged into the smoothed loss (the thesis: "a few hundred iterations"). */
  window: z.number().int().min(1).default(200),
  /** Steps a rate of decrease is sustained over (default: the window). */
  span: z.number().int().min(1).optional(),
  resamples: z.number().int().min(2000).default(4000),
  seed: z.number().int().nonnegative().default(0),
});

/** Points drawn per smoothed loss curve (the analysis uses every step). */
const MAX_LINE_POINTS = 300;

const POINTS = ['steepest', 'lowest'] as const;
const TARGETS = ['rate', 'finalLoss'] as const;
type Point = (typeof POINTS)[number];
type Target = (typeof TARGETS)[number];
const POINT_TEXT: Record<Point, string> = { steepest: 'at steepest descent', lowest: 'at lowest loss' };
const TARGET_TEXT: Record<Target, string> = { rate: 'best sustained rate of decrease (loss per step)', finalLoss: 'final training loss' };

/** One run's points and each metric's value at them. */
interface RunPoints {
  run: AnalysedRun;
  network: string;
  descent: DescentPoints;
  rate: number | null;
  finalLoss: number | null;
  at: Map<MetricName, Record<Point, number | null>>;
}

function pointsOf(run: AnalysedRun, trace: NonNullable<ReturnType<AnalysedRun['trace']>>, network: string, metrics: MetricName[], window: number, span: number): RunPoints {
  const descent = descentPoints(lossSeries(trace), { window, span });
  const series = metricSeries(trace);
  const at = new Map(metrics.map((m) => {
    const pts = series.get(m)!.points;
    const near = (step: number | undefined) => (step === undefined ? null : valueNear(pts, step, window));
    return [m, { steepest: near(descent.steepest?.step), lowest: near(descent.lowest?.step) }];
  }));
  // A diverged run has no final loss: its last finite losses are not where it ended.
  const finalLoss = run.outcome.status === 'diverged' ? null : descent.finalLoss;
  return { run, network, descent, rate: descent.steepest?.rate ?? null, finalLoss, at };
}

interface Pair {
  metric: MetricName;
  point: Point;
  target: Target;
  correlation: Correlation;
  rows: ScatterRow[];
}

function pairOf(metric: MetricName, point: Point, target: Target, runs: RunPoints[], o: z.output<typeof OptionsSchema>): Pair {
  const used = runs.filter((r) => r.at.get(metric)![point] !== null && r[target] !== null);
  const xs = used.map((r) => r.at.get(metric)![point]!);
  const ys = used.map((r) => r[target]!);
  const correlation = spearmanInterval(xs, ys, { resamples: o.resamples, seed: o.seed, clusters: used.map((r) => r.network) });
  const rows = used.map((r, i) => ({ x: xs[i]!, y: ys[i]!, group: r.run.cell.architecture, label: r.run.cell.depth === null ? '' : String(r.run.cell.depth), run: r.run.id }));
  return { metric, point, target, correlation, rows };
}

function scatterPlot(p: Pair, groups: string[]): ReportPlot {
  const title = `${p.metric} ${POINT_TEXT[p.point]}: ${formatCorrelation(p.correlation)}`;
  return {
    title,
    spec: scatterSpec({ rows: p.rows, x: `${p.metric} ${POINT_TEXT[p.point]}`, y: TARGET_TEXT[p.target], groups, title }),
    caption: `One point per run, labelled with its depth; ρ is Spearman's rank correlation with a 95% percentile bootstrap interval (${p.correlation.resamples} resamples of whole networks, seed ${p.correlation.seed}).`,
  };
}

/** The median smoothed loss of each network, to show what the points were taken from. */
function lossPlot(runs: RunPoints[]): ReportPlot {
  const networks = [...new Set(runs.map((r) => r.network))];
  const rows: LineRow[] = runs.flatMap((r) => thin(r.descent.smoothed, MAX_LINE_POINTS).map((p) => ({ line: `${r.network} s${r.run.cell.seed}`, x: p.step, median: p.value, lo: p.value, hi: p.value, n: 1 })));
  const lines = networks.flatMap((n) => runs.filter((r) => r.network === n).map((r) => `${n} s${r.run.cell.seed}`));
  return { title: 'smoothed training loss', spec: lineSpec({ rows, x: 'step', y: 'smoothed batch loss', lines, band: false, logY: false }), caption: `Each run's smoothed loss, from which its points are read (at most ${MAX_LINE_POINTS} evenly spaced points drawn per run).` };
}

function findingsOf(pairs: Pair[], runs: RunPoints[], all: number): string[] {
  const defined = pairs.filter((p) => p.correlation.interval !== null);
  const strong = defined.filter((p) => excludesZero(p.correlation)).sort((a, b) => Math.abs(b.correlation.rho!) - Math.abs(a.correlation.rho!));
  const text = (p: Pair) => `${p.metric} ${POINT_TEXT[p.point]} vs ${p.target === 'rate' ? 'best rate' : 'final loss'}: ${formatCorrelation(p.correlation)}`;
  return [
    `${runs.length} of ${all} run(s) analysed; ${runs.filter((r) => r.rate !== null).length} have a point of steepest descent.`,
    strong.length
      ? `${strong.length} of ${defined.length} metric × target pairs have a 95% interval excluding 0 (by chance alone about ${(defined.length * 0.05).toFixed(1)} would): ${strong.slice(0, 8).map(text).join('; ')}${strong.length > 8 ? '; …' : ''}.`
      : `None of the ${defined.length} metric × target pairs with an interval has one excluding 0: no correlation is established at this size.`,
    `${pairs.length - defined.length} pair(s) have no interval (too few runs with the metric, or no spread).`,
  ];
}

function analyse(input: AnalysisInput): AnalysisResult {
  const o = parseOptions(OptionsSchema, input.options, `analysis options of '${input.definition.name}'`);
  const metrics = metricsOption(o.metrics);
  const span = o.span ?? o.window;
  const network = networkLabeller(input.runs);
  const runs = readableRuns(input.runs).map(({ run, trace }) => pointsOf(run, trace, network(run.cell), metrics, o.window, span));
  const pairs = metrics.flatMap((m) => POINTS.flatMap((p) => TARGETS.map((t) => pairOf(m, p, t, runs, o))));
  const groups = [...new Set(runs.map((r) => r.run.cell.architecture))];
  const drawn = pairs.filter((p) => (p.point === 'steepest' ? p.target === 'rate' : p.target === 'finalLoss') && p.rows.length > 0);
  const table = {
    columns: ['metric', 'point', 'target', 'n', 'ρ', '95% interval', 'excludes 0'],
    rows: pairs.map((p) => [
      p.metric, POINT_TEXT[p.point], p.target === 'rate' ? 'best rate' : 'final loss', String(p.correlation.n), sig(p.correlation.rho),
      p.correlation.interval ? `[${p.correlation.interval.map((v) => v.toFixed(2)).join(', ')}]` : `— (${p.correlation.intervalReason ?? p.correlation.reason})`,
      excludesZero(p.correlation) ? 'yes' : 'no',
    ]),
    caption: `Spearman's ρ of the metric and the target over the runs where both are defined, with a 95% percentile bootstrap interval resampling whole networks (${o.resamples} resamples). A higher rate is faster training; a lower final loss is better.`,
  };
  const rules = `Loss smoothed by a centred moving average over ${o.window} steps; best sustained rate = the largest mean decrease per step over ${span} steps, its point the middle of that stretch; lowest loss = the minimum of the smoothed loss; final loss = the mean loss over the last ${o.window} steps (none for a diverged run). A metric at a point is the median of its samples within ±${Math.floor(o.window / 2)} steps.`;
  const sections: Section[] = [
    { title: 'How the points are read', text: rules, plots: runs.length ? [lossPlot(runs)] : [] },
    { title: 'Metric against training speed', text: 'Per metric: its value at steepest descent against the best sustained rate, and at the lowest loss against the final loss.', plots: drawn.map((p) => scatterPlot(p, groups)) },
    { title: 'All metric × target pairs', table },
  ];
  const results: JsonValue = {
    rules: { window: o.window, span, resamples: o.resamples, seed: o.seed },
    runs: runs.map((r) => ({ id: r.run.id, network: r.network, steepestStep: r.descent.steepest?.step ?? null, rate: r.rate, lowestStep: r.descent.lowest?.step ?? null, lowestLoss: r.descent.lowest?.loss ?? null, finalLoss: r.finalLoss, at: Object.fromEntries(r.at) })),
    pairs: pairs.map((p) => ({ metric: p.metric, point: p.point, target: p.target, ...p.correlation })) as unknown as JsonValue,
  };
  return { results, sections, findings: findingsOf(pairs, runs, input.runs.length) };
}

export const speedAnalysis: Analysis = {
  name: 'speed',
  description: 'each metric at steepest descent and at lowest loss against the best rate and the final loss: Spearman ρ with bootstrap intervals',
  run: analyse,
};
