/**
 * Experiment 1's analysis, "metric traces across architectures" (the thesis, figures 2.5, 3.3, 3.7,
 * 3.9, 3.12, 3.16, 3.19, 4.4, 4.6, 4.8): one plot per metric, the metric against the step, one
 * line per network (architecture × depth, and any other axis the grid varies), the median over
 * its seeds with their min–max band; a table of each network's first and last value; and, for
 * the thesis' headline metrics, the spread across networks at the start and at the end.
 */
import { z } from 'zod';
import { METRICS, type MetricName } from '../metrics/registry.js';
import { aggregateSeeds } from '../report/aggregate.js';
import type { ReportPlot, Section } from '../report/doc.js';
import type { JsonValue } from '../trace/index.js';
import { parseOptions } from '../validation.js';
import { lineSpec, wantsLog, type LineRow } from './plots.js';
import { metricSeries, metricsOption, networkLabeller, readableRuns, sig } from './series.js';
import type { Analysis, AnalysisInput, AnalysisResult } from './types.js';

const OptionsSchema = z.strictObject({
  /** Metrics to plot (default: every registered metric). */
  metrics: z.array(z.string()).optional(),
  /** Most points per line (longer traces are thinned). */
  maxPoints: z.number().int().min(10).default(300),
  /** Metrics whose spread across networks becomes a finding. */
  headline: z.array(z.string()).default(['kappaW', 'kappaX', 'rankW', 'rankX', 'confusion', 'diversity', 'coherence', 'cosSimW']),
});

/** One network's curve of one metric. */
interface Curve {
  line: string;
  rows: LineRow[];
  nulls: number;
  seeds: number;
}

type Runs = ReturnType<typeof readableRuns>;

/** The median curve over seeds of each network, for one metric. */
function curves(metric: MetricName, runs: Runs, label: (r: Runs[number]) => string, maxPoints: number): Curve[] {
  const byLine = new Map<string, Runs>();
  for (const r of runs) byLine.set(label(r), [...(byLine.get(label(r)) ?? []), r]);
  return [...byLine].map(([line, members]) => {
    const series = members.map((m) => metricSeries(m.trace).get(metric)!);
    const points = aggregateSeeds(series.map((s) => ({ x: s.points.map((p) => p.step), y: s.points.map((p) => p.value) })), maxPoints);
    return { line, rows: points.map((p) => ({ line, ...p })), nulls: series.reduce((a, s) => a + s.nulls, 0), seeds: members.length };
  });
}

function plotOf(metric: MetricName, cs: Curve[]): ReportPlot | null {
  const withData = cs.filter((c) => c.rows.length > 0);
  if (withData.length === 0) return null;
  const rows = withData.flatMap((c) => c.rows);
  const spec = METRICS[metric];
  const nulls = cs.reduce((a, c) => a + c.nulls, 0);
  const seeds = [...new Set(cs.map((c) => c.seeds))].join(' or ');
  return {
    title: metric,
    spec: lineSpec({ rows, x: 'step', y: metric, lines: withData.map((c) => c.line), band: cs.some((c) => c.seeds > 1), logY: wantsLog(rows.map((r) => r.median)) }),
    caption: `${spec.description} (group \`${spec.group}\`, ${spec.thesis}). Line: median over ${seeds} seed(s); band: min–max.${nulls ? ` ${nulls} null sample(s) left out (undefined there, see the run traces for why).` : ''}`,
  };
}

/** "kappaW at the first sample ranged from 1.2 (fc-relu d2) to 40 (fc-relu d8); at the last, …". */
function spreadFinding(metric: MetricName, cs: Curve[]): string | null {
  const ends = cs.filter((c) => c.rows.length > 0).map((c) => ({ line: c.line, first: c.rows[0]!.median, last: c.rows.at(-1)!.median }));
  if (ends.length < 2) return null;
  const range = (key: 'first' | 'last') => {
    const sorted = [...ends].sort((a, b) => a[key] - b[key]);
    return `${sig(sorted[0]![key])} (${sorted[0]!.line}) to ${sig(sorted.at(-1)![key])} (${sorted.at(-1)!.line})`;
  };
  return `${metric} (median over seeds) ranged from ${range('first')} at the first sample, and from ${range('last')} at the last.`;
}

function analyse(input: AnalysisInput): AnalysisResult {
  const o = parseOptions(OptionsSchema, input.options, `analysis options of '${input.definition.name}'`);
  const metrics = metricsOption(o.metrics);
  metricsOption(o.headline);
  const runs = readableRuns(input.runs);
  const labelOf = networkLabeller(input.runs);
  const label = (r: Runs[number]) => labelOf(r.run.cell);
  const all = new Map(metrics.map((m) => [m, curves(m, runs, label, o.maxPoints)]));
  const plots = metrics.map((m) => plotOf(m, all.get(m)!)).filter((p): p is ReportPlot => p !== null);
  const lines = [...new Set(runs.map(label))];
  const table = {
    columns: ['metric', ...lines],
    rows: metrics.map((m) => [m, ...lines.map((l) => {
      const c = all.get(m)!.find((x) => x.line === l);
      return c && c.rows.length ? `${sig(c.rows[0]!.median)} → ${sig(c.rows.at(-1)!.median)}` : '—';
    })]),
    caption: 'Each network\'s median over seeds at its first and its last sample.',
  };
  const results: JsonValue = Object.fromEntries(metrics.map((m) => [m, Object.fromEntries(all.get(m)!.map((c) => [c.line, {
    first: c.rows[0]?.median ?? null, last: c.rows.at(-1)?.median ?? null, points: c.rows.length, nulls: c.nulls, seeds: c.seeds,
  }]))]));
  const skipped = input.runs.length - runs.length;
  const notDone = runs.filter((r) => r.run.outcome.status !== 'done');
  const findings = [
    `${runs.length} of ${input.runs.length} run(s) traced${skipped ? ` (${skipped} failed or left no steps: ${input.runs.filter((r) => !runs.some((x) => x.run.id === r.id)).map((r) => r.id).join(', ')})` : ''}; ${notDone.length} diverged or dead${notDone.length ? ` (${notDone.map((r) => `${r.run.id}: ${r.run.outcome.status}`).join(', ')})` : ''}.`,
    ...o.headline.filter((m) => metrics.includes(m as MetricName)).map((m) => spreadFinding(m as MetricName, all.get(m as MetricName)!)).filter((f): f is string => f !== null),
  ];
  const sections: Section[] = [
    { title: 'Metric traces', text: `One plot per metric: the metric against the optimizer step, one line per network (${lines.length}).`, plots },
    { title: 'First and last values', table },
  ];
  return { results, sections, findings };
}

export const tracesAnalysis: Analysis = {
  name: 'traces',
  description: 'every metric through training, one line per network (median over seeds)',
  run: analyse,
};
