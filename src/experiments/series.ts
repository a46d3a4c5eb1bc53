/**
 * What the analyses read from runs: each metric's samples by step (from the metric samples of
 * the sampled groups, and from the step events for `kappaWStep`), the per-step loss, and a label
 * per network — the grid coordinates that vary, seeds left out — so that the seeds of one network
 * are one line in a plot and one cluster in a bootstrap.
 */
import { METRICS, METRIC_NAMES, type MetricName } from '../metrics/registry.js';
import type { Trace } from '../trace/index.js';
import type { StepValue } from './smoothing.js';
import type { AnalysedRun, Cell } from './types.js';
import { UsageError } from '../errors.js';

/** Every registered metric's samples in a run, in step order (null values left out, counted). */
export function metricSeries(trace: Trace): Map<MetricName, { points: StepValue[]; nulls: number }> {
  const out = new Map<MetricName, { points: StepValue[]; nulls: number }>(METRIC_NAMES.map((m) => [m, { points: [], nulls: 0 }]));
  for (const s of trace.steps) {
    const e = out.get('kappaWStep')!;
    if (s.kappaWStep === null) e.nulls++;
    else e.points.push({ step: s.step, value: s.kappaWStep });
  }
  for (const sample of trace.metrics) {
    for (const [name, value] of Object.entries(sample.values)) {
      const e = out.get(name as MetricName);
      if (!e || METRICS[name as MetricName].group === 'step') continue;
      if (value === null || !Number.isFinite(value)) e.nulls++;
      else e.points.push({ step: sample.step, value });
    }
  }
  return out;
}

/** The batch loss of every step with a finite loss. */
export function lossSeries(trace: Trace): StepValue[] {
  return trace.steps.flatMap((s) => (s.loss === null || !Number.isFinite(s.loss) ? [] : [{ step: s.step, value: s.loss }]));
}

const AXES = ['architecture', 'depth', 'width', 'batchSize', 'learningRate', 'policy', 'metrics'] as const;
const SHOW: Record<(typeof AXES)[number], (c: Cell) => string> = {
  architecture: (c) => c.architecture,
  depth: (c) => (c.depth === null ? '' : `d${c.depth}`),
  width: (c) => (c.width === null ? '' : `w${c.width}`),
  batchSize: (c) => `b${c.batchSize}`,
  learningRate: (c) => `lr${c.learningRate}`,
  policy: (c) => c.policy,
  metrics: (c) => c.metrics,
};

/**
 * A label per network: the architecture (unless `architecture` is false) and every other axis
 * that varies among the runs of one architecture (not the seed): `fc-relu d4`, not
 * `fc-relu d4 w256` when each architecture has one width.
 */
export function networkLabeller(runs: readonly AnalysedRun[], architecture = true): (c: Cell) => string {
  const archs = [...new Set(runs.map((r) => r.cell.architecture))];
  const varies = AXES.filter((a) => {
    if (a === 'architecture') return architecture || archs.length > 1;
    return archs.some((arch) => new Set(runs.filter((r) => r.cell.architecture === arch).map((r) => SHOW[a](r.cell))).size > 1);
  });
  return (c) => varies.map((a) => SHOW[a](c)).filter(Boolean).join(' ');
}

/** Validates an analysis' `metrics` option: registered names, or every metric when left out. */
export function metricsOption(names: readonly string[] | undefined): MetricName[] {
  if (names === undefined) return [...METRIC_NAMES];
  const bad = names.find((n) => !(METRIC_NAMES as readonly string[]).includes(n));
  if (bad !== undefined) throw new UsageError(`analysis option metrics: unknown metric '${bad}': known metrics are ${METRIC_NAMES.join(', ')}`);
  return names as MetricName[];
}

/** Runs an analysis can read: a trace with steps (failed runs and runs with no directory left out). */
export function readableRuns(runs: readonly AnalysedRun[]): { run: AnalysedRun; trace: Trace }[] {
  return runs.flatMap((run) => {
    if (run.outcome.status === 'failed' || run.outcome.status === 'incomplete') return [];
    const trace = run.trace();
    return trace && trace.steps.length > 0 ? [{ run, trace }] : [];
  });
}

/** Three significant digits, or '—'. */
export function sig(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? String(Number(v.toPrecision(3))) : v.toExponential(2);
}
