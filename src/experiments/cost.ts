/**
 * Chapter-4 experiment 4 (thesis figure 4.10): what each metric group costs as the network grows.
 *
 * For every network of a grid (zoo architectures × depths × widths), one process times a training
 * step and every sampled metric group on the same batch, interleaved (a step, then each group,
 * repeated after warm-up), so that each group's time is also a ratio to a step taken moments
 * before it: on a shared machine the ratio is steadier than either time. Per group, the exponent
 * k of `time ∝ P^k` (P the trainable parameter count) is the least-squares slope of log time on
 * log P over the networks, with its standard error and a percentile bootstrap interval that
 * resamples networks (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 9 and 13).
 *
 * `measureEachGroup` is the measurement protocol this experiment and the mask experiment share.
 */
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { trainStep } from '../bench/trainStep.js';
import { median, quantile } from '../compare/stats.js';
import { batchTensors } from '../data/dataset.js';
import { mulberry32 } from '../data/random.js';
import { loadData } from '../data/registry.js';
import { batchGradient } from '../engine/batchGradient.js';
import { type PerExampleLoss, perExampleLoss } from '../engine/losses.js';
import type { Mask } from '../engine/mask.js';
import { type Measurement, type MeasureOptions, type StepContext, measureBatch } from '../engine/measure.js';
import { parameterCount, withPerturbedWeights } from '../engine/params.js';
import { UsageError } from '../errors.js';
import { GROUPS, SAMPLED_GROUPS, type SampledGroup } from '../metrics/registry.js';
import { buildModel } from '../models/zoo.js';
import { OPTIMIZERS, type OptimizerName } from '../optimizer/optimizers.js';
import type { ReportTable, Section } from '../report/doc.js';
import type { JsonValue } from '../trace/format.js';
import { parseOptions } from '../validation.js';
import { type Analysis, type AnalysisInput, type AnalysisResult, ArchitectureAxisSchema, type ArchitectureAxis, type Settings, type Variant } from './types.js';

// ---------------------------------------------------------------------------------------------
// The shared measurement protocol

/** What `measureEachGroup` needs besides the batch and the mask. */
export interface GroupProbe {
  model: tf.LayersModel;
  loss: PerExampleLoss;
  /** Perturbation scale η. */
  eta: number;
  /** kappaX: the first min(b, n) examples' input-gradient directions, both signs. */
  inputDirections: number;
  /** Rate of the plain SGD step θ⁺ = θ − lr·h̄ that the `update` group measures along. */
  learningRate: number;
}

/**
 * Every group of `groups` on one batch, each in a measureBatch call of its own, so that each
 * group's time is its whole cost (work that groups could share, such as the per-example pass, is
 * paid by each). Weight directions are the probe protocol's (`gradient`, seed 0), so the numbers
 * are deterministic. The `update` group needs a step: when it is asked for, a plain SGD step is
 * taken on the batch, every group is measured at θ⁺ (where the conditioned optimizer measures,
 * after its step), and θ is restored bit for bit.
 */
export function measureEachGroup(probe: GroupProbe, x: tf.Tensor, y: tf.Tensor, groups: readonly SampledGroup[], mask: Mask | null): Measurement {
  const ctx = { model: probe.model, loss: probe.loss, mask, eta: probe.eta };
  const each = (step?: StepContext): Measurement => {
    const opts: MeasureOptions = { weightSampling: { sampling: 'gradient', n: 1, seed: 0 }, inputDirections: probe.inputDirections, ...(step ? { step } : {}) };
    const out: Measurement = { values: {}, durations: {} };
    for (const group of groups) {
      const m = measureBatch(ctx, x, y, [group], opts);
      Object.assign(out.values, m.values);
      out.durations[group] = m.durations[group];
    }
    return out;
  };
  if (!groups.includes('update')) return each();
  const before = batchGradient(probe.model, probe.loss, x, y);
  const delta = tf.tidy(() => before.grad.mul(-probe.learningRate) as tf.Tensor1D);
  try {
    // The gradient is the engine's own (inference mode, same loss), so the update group reuses it.
    return withPerturbedWeights(probe.model, delta, () => each({ grads: [before.grad], update: [delta], loss: before.loss, reusable: true }));
  } finally {
    tf.dispose([before.grad, delta]);
  }
}

/** One network of an architecture axis, with its depth and width (null: the zoo's default). */
export interface Network {
  label: string;
  arch: ArchitectureAxis;
  depth: number | null;
  width: number | null;
}

/** The networks of some architecture axes: each axis' depths × widths, labelled `label.dD.wW`. */
export function networksOf(axes: readonly ArchitectureAxis[]): Network[] {
  return axes.flatMap((arch) =>
    (arch.depths ?? [null]).flatMap((depth) =>
      (arch.widths ?? [null]).map((width) => ({
        label: [arch.label, depth === null ? null : `d${depth}`, width === null ? null : `w${width}`].filter((s) => s !== null).join('.'),
        arch, depth, width,
      })),
    ),
  );
}

/** Builds a network for data of this shape, seeded. */
export function buildNetwork(n: Network, inputShape: number[], classes: number, seed: number): tf.LayersModel {
  return buildModel(n.arch.zoo, {
    ...n.arch.options, inputShape, classes, seed,
    ...(n.depth !== null ? { depth: n.depth } : {}), ...(n.width !== null ? { width: n.width } : {}),
  });
}

/** A training step's optimizer, as the variant's settings name it. */
export function createOptimizer(settings: Pick<Settings, 'optimizer'>, learningRate: number): tf.Optimizer {
  return OPTIMIZERS[settings.optimizer as OptimizerName].create(learningRate);
}

// ---------------------------------------------------------------------------------------------
// The log-log fit

/** `time ∝ P^slope`, fitted on log10 axes. */
export interface PowerLawFit {
  /** The exponent: least-squares slope of log10 y on log10 x. */
  slope: number;
  /** log10 y at x = 1. */
  intercept: number;
  /** Standard error of the slope (n − 2 degrees of freedom); null with fewer than 3 points. */
  se: number | null;
  /** Percentile bootstrap interval of the slope at `level`, resampling points; null when no resample has two distinct x. */
  interval: [number, number] | null;
  level: number;
  /** Coefficient of determination on the log axes (1 when y is constant, all of it explained). */
  r2: number;
  n: number;
}

function olsSlope(lx: readonly number[], ly: readonly number[]): { slope: number; intercept: number; sxx: number } | null {
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (lx[i]! - mx) ** 2;
    sxy += (lx[i]! - mx) * (ly[i]! - my);
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, sxx };
}

export interface FitOptions {
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** Interval level (default 0.95). */
  level?: number;
  seed?: number;
}

/**
 * Least squares of log10 y on log10 x. Every x and y must be positive and finite and the x not
 * all equal (else a UsageError: there is no line to fit).
 */
export function fitLogLog(xs: readonly number[], ys: readonly number[], { resamples = 2000, level = 0.95, seed = 0 }: FitOptions = {}): PowerLawFit {
  if (xs.length !== ys.length) throw new UsageError(`fitLogLog: ${xs.length} x values but ${ys.length} y values`);
  const bad = [...xs, ...ys].find((v) => !(v > 0 && Number.isFinite(v)));
  if (bad !== undefined) throw new UsageError(`fitLogLog: every value must be positive and finite on log axes, got ${bad}`);
  const lx = xs.map(Math.log10);
  const ly = ys.map(Math.log10);
  const fit = olsSlope(lx, ly);
  if (!fit) throw new UsageError(`fitLogLog: needs at least two distinct x values, got ${xs.length} point(s)`);
  const n = xs.length;
  let ssr = 0;
  let sst = 0;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  for (let i = 0; i < n; i++) {
    ssr += (ly[i]! - fit.intercept - fit.slope * lx[i]!) ** 2;
    sst += (ly[i]! - my) ** 2;
  }
  const se = n > 2 ? Math.sqrt(ssr / (n - 2) / fit.sxx) : null;
  return { slope: fit.slope, intercept: fit.intercept, se, interval: bootstrapSlope(lx, ly, resamples, level, seed), level, r2: sst > 0 ? 1 - ssr / sst : 1, n };
}

/** Percentile interval of the OLS slope over resamples of the points (resamples with one distinct x are skipped). */
function bootstrapSlope(lx: readonly number[], ly: readonly number[], resamples: number, level: number, seed: number): [number, number] | null {
  const rand = mulberry32(seed);
  const n = lx.length;
  const slopes: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const bx: number[] = [];
    const by: number[] = [];
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      bx.push(lx[j]!);
      by.push(ly[j]!);
    }
    const fit = olsSlope(bx, by);
    if (fit) slopes.push(fit.slope);
  }
  if (slopes.length === 0) return null;
  const tail = (1 - level) / 2;
  return [quantile(slopes, tail), quantile(slopes, 1 - tail)];
}

// ---------------------------------------------------------------------------------------------
// Options and measurement

const count = (what: string) => z.number({ error: `${what} must be a positive integer` }).int().positive();

/** The analysis options of a cost variant (its `analysis` field). */
export const CostOptionsSchema = z.strictObject({
  /** The networks: each architecture's depths × widths. */
  architectures: z.array(ArchitectureAxisSchema).min(1),
  batchSize: count('batchSize'),
  /** Timed repetitions per network (after `warmup` untimed ones). */
  runs: count('runs'),
  warmup: z.number().int().nonnegative().default(1),
  groups: z.array(z.enum(SAMPLED_GROUPS as [SampledGroup, ...SampledGroup[]])).min(1).default([...SAMPLED_GROUPS]),
  learningRate: z.number().positive().default(0.01),
  eta: z.number().positive().default(1e-3),
  inputDirections: count('inputDirections').default(4),
  /** Bootstrap resamples of each fit. */
  resamples: count('resamples').default(2000),
  seed: z.number().int().nonnegative().default(0),
});
export type CostOptions = z.output<typeof CostOptionsSchema>;

/** One network's times, ms, one entry per timed run (a step and each group, interleaved). */
export interface CostPoint {
  network: string;
  architecture: string;
  depth: number | null;
  width: number | null;
  params: number;
  stepMs: number[];
  groupMs: Partial<Record<SampledGroup, number[]>>;
}

/** Times one network: `warmup` untimed rounds, then `runs` rounds of one step and every group. */
function timeNetwork(n: Network, o: CostOptions, settings: Settings, x: tf.Tensor, y: tf.Tensor): CostPoint {
  const [inputShape, classes] = [x.shape.slice(1), y.shape[1]!];
  const model = buildNetwork(n, inputShape, classes, o.seed);
  const loss = perExampleLoss(settings.loss);
  const optimizer = createOptimizer(settings, o.learningRate);
  const probe: GroupProbe = { model, loss, eta: o.eta, inputDirections: o.inputDirections, learningRate: o.learningRate };
  const point: CostPoint = { network: n.label, architecture: n.arch.label, depth: n.depth, width: n.width, params: parameterCount(model), stepMs: [], groupMs: {} };
  try {
    for (let r = 0; r < o.warmup + o.runs; r++) {
      const t0 = performance.now();
      trainStep(model, optimizer, loss, x, y);
      const stepMs = performance.now() - t0;
      const m = measureEachGroup(probe, x, y, o.groups, null);
      if (r < o.warmup) continue;
      point.stepMs.push(stepMs);
      for (const g of o.groups) (point.groupMs[g] ??= []).push(m.durations[g]!);
    }
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  return point;
}

/** Every network's times, on the first `batchSize` training examples of the settings' data. */
export function measureCost(o: CostOptions, settings: Settings, log: (line: string) => void = () => {}): CostPoint[] {
  const data = loadData(settings.data).train;
  if (data.size < o.batchSize) throw new UsageError(`cost experiment: batchSize ${o.batchSize} needs at least that many training examples, the data has ${data.size}`);
  const { x, y } = batchTensors(data, Int32Array.from({ length: o.batchSize }, (_, i) => i));
  try {
    return networksOf(o.architectures).map((n) => {
      const p = timeNetwork(n, o, settings, x, y);
      log(`cost: ${p.network} (${p.params} parameters): step ${median(p.stepMs).toFixed(1)} ms`);
      return p;
    });
  } finally {
    tf.dispose([x, y]);
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis

/** Median and quartiles of some values. */
export interface Summary {
  median: number;
  q1: number;
  q3: number;
}

export function summary(xs: readonly number[]): Summary {
  return { median: median(xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) };
}

/** A series of the cost plot: the training step, or a group. */
export type CostSeries = 'train step' | SampledGroup;

export interface SeriesFit {
  series: CostSeries;
  /** log10 median ms on log10 P. */
  time: PowerLawFit;
  /** log10 median (group ms / step ms of the same run) on log10 P; null for the step itself. */
  ratio: PowerLawFit | null;
}

/** Per run, the group's time over the step's time in the same round. */
export function ratios(p: CostPoint, g: SampledGroup): number[] {
  return (p.groupMs[g] ?? []).map((ms, i) => ms / p.stepMs[i]!);
}

/** The fits of every series over the networks (needs two distinct parameter counts). */
export function fitCost(points: readonly CostPoint[], o: Pick<CostOptions, 'groups' | 'resamples' | 'seed'>): SeriesFit[] {
  const params = points.map((p) => p.params);
  const fitOpts = { resamples: o.resamples, seed: o.seed };
  const step: SeriesFit = { series: 'train step', time: fitLogLog(params, points.map((p) => median(p.stepMs)), fitOpts), ratio: null };
  return [
    step,
    ...o.groups.map((g) => ({
      series: g,
      time: fitLogLog(params, points.map((p) => median(p.groupMs[g]!)), fitOpts),
      ratio: fitLogLog(params, points.map((p) => median(ratios(p, g))), fitOpts),
    })),
  ];
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v: number, digits = 2) => v.toFixed(digits);
const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

function slopeCell(f: PowerLawFit): string {
  return `${fmt(f.slope)}${f.se !== null ? ` ± ${fmt(f.se)}` : ''}`;
}

function intervalCell(f: PowerLawFit): string {
  return f.interval ? `[${fmt(f.interval[0])}, ${fmt(f.interval[1])}]` : '—';
}

function slopeTable(fits: readonly SeriesFit[]): ReportTable {
  return {
    columns: ['series', 'slope of ms ± se', 'bootstrap 95%', 'r²', 'slope of ms / step', 'bootstrap 95% (ratio)'],
    rows: fits.map((f) => [
      f.series, slopeCell(f.time), intervalCell(f.time), fmt(f.time.r2, 3),
      f.ratio ? slopeCell(f.ratio) : '—', f.ratio ? intervalCell(f.ratio) : '—',
    ]),
    caption: 'Least squares of log₁₀ time on log₁₀ parameters over the networks (median time of each); ± one standard error; the interval is a percentile bootstrap over networks. A slope of 1 is linear in the parameter count.',
  };
}

function timesTable(points: readonly CostPoint[], groups: readonly SampledGroup[]): ReportTable {
  return {
    columns: ['network', 'parameters', 'step ms', ...groups.map((g) => `${g}: × step`)],
    rows: points.map((p) => {
      const s = summary(p.stepMs);
      return [p.network, String(p.params), `${ms(s.median)} [${ms(s.q1)}–${ms(s.q3)}]`, ...groups.map((g) => {
        const r = summary(ratios(p, g));
        return `${fmt(r.median)} [${fmt(r.q1)}–${fmt(r.q3)}]`;
      })];
    }),
    caption: 'Medians over the timed runs, [first–third quartile]; a group\'s cost is its time over the time of the training step taken just before it, in the same process.',
  };
}

/** Log-log scatter of median times with each series' fitted line. */
function costPlotSpec(points: readonly CostPoint[], fits: readonly SeriesFit[]) {
  const dots = points.flatMap((p) => fits.map((f) => ({
    series: f.series, params: p.params, network: p.network,
    ms: f.series === 'train step' ? median(p.stepMs) : median(p.groupMs[f.series]!),
  })));
  const [lo, hi] = [Math.min(...points.map((p) => p.params)), Math.max(...points.map((p) => p.params))];
  const lines = fits.flatMap((f) => [lo, hi].map((params) => ({ series: f.series, params, ms: 10 ** (f.time.intercept + f.time.slope * Math.log10(params)) })));
  const x = { field: 'params', type: 'quantitative', scale: { type: 'log' }, title: 'trainable parameters' };
  const y = { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms (median)' };
  const color = { field: 'series', type: 'nominal', title: 'series', sort: fits.map((f) => f.series) };
  return {
    width: 460, height: 300,
    layer: [
      { data: { values: dots }, mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y, color, tooltip: [{ field: 'network' }, { field: 'series' }, { field: 'ms', format: '.2f' }] } },
      { data: { values: lines }, mark: { type: 'line', strokeDash: [4, 3] }, encoding: { x, y, color, detail: { field: 'series' } } },
    ],
  } as never;
}

/** One finding per series: its exponent with the interval. */
export function costFindings(fits: readonly SeriesFit[], points: readonly CostPoint[]): string[] {
  const [lo, hi] = [Math.min(...points.map((p) => p.params)), Math.max(...points.map((p) => p.params))];
  const span = `${points.length} networks, ${lo} to ${hi} parameters (${fmt(Math.log10(hi / lo), 1)} decades)`;
  return fits.map((f) => {
    const t = `${f.series}: time ∝ P^${fmt(f.time.slope)}${f.time.se !== null ? ` (se ${fmt(f.time.se)})` : ''}, bootstrap 95% ${intervalCell(f.time)}`;
    return f.ratio ? `${t}; as a multiple of a training step ∝ P^${fmt(f.ratio.slope)} ${intervalCell(f.ratio)} over ${span}` : `${t} over ${span}`;
  });
}

export function costSections(points: readonly CostPoint[], fits: readonly SeriesFit[], groups: readonly SampledGroup[]): Section[] {
  return [
    {
      title: 'Cost against parameter count',
      text: 'Each point is a network\'s median time for one training step or one metric group (every group measured on its own, so work groups could share is paid by each). Dashed lines are the least-squares fits on log–log axes; their slopes are the exponents in the table.',
      plots: [{ title: 'Metric group time against parameters (log–log)', spec: costPlotSpec(points, fits), caption: 'median over the timed runs of each network' }],
      table: slopeTable(fits),
    },
    { title: 'Times by network', table: timesTable(points, groups) },
  ];
}

/** The `cost` analysis: measures by itself (its variants have no training runs). */
export const costAnalysis: Analysis = {
  name: 'cost',
  description: 'time of every metric group against parameter count, with log-log slopes',
  run(input: AnalysisInput): AnalysisResult {
    const o = parseOptions(CostOptionsSchema, input.options, 'the cost experiment\'s analysis options');
    const settings = input.definition[input.variant].settings;
    const points = measureCost(o, settings, input.log);
    const fits = fitCost(points, o);
    return {
      results: { points, fits } as unknown as JsonValue,
      sections: costSections(points, fits, o.groups),
      findings: costFindings(fits, points),
    };
  },
  estimateSeconds: (variant: Variant) => estimateCostSeconds(parseOptions(CostOptionsSchema, variant.analysis, 'the cost experiment\'s analysis options'), variant.settings.data),
};

/** One example's shape and the class count of a data spec (a user's file is read to learn them). */
export function dataShape(spec: Settings['data']): { inputShape: number[]; classes: number } {
  if (spec.name === 'synthetic') return { inputShape: spec.inputShape, classes: spec.classes };
  if (spec.name === 'embedded' || spec.name === 'fashion-mnist') return { inputShape: [28, 28, 1], classes: 10 };
  const { inputShape, classes } = loadData(spec).train;
  return { inputShape, classes };
}

/**
 * Seconds one training step of each network takes here at this batch size: the median of 3
 * steps after a warm-up one, on random inputs of the data's shape (timing does not depend on the
 * values). The experiments' estimates are multiples of it.
 */
export function stepSeconds(networks: readonly Network[], spec: Settings['data'], batchSize: number, seed = 0): number[] {
  const { inputShape, classes } = dataShape(spec);
  const loss = perExampleLoss('categoricalCrossentropy');
  const x = tf.randomNormal([batchSize, ...inputShape], 0, 1, 'float32', seed);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % classes), 'int32'), classes).toFloat());
  try {
    return networks.map((n) => {
      const model = buildNetwork(n, inputShape, classes, seed);
      const opt = tf.train.sgd(0.01);
      const times: number[] = [];
      for (let r = 0; r < 4; r++) {
        const t0 = performance.now();
        trainStep(model, opt, loss, x, y);
        times.push((performance.now() - t0) / 1000);
      }
      opt.dispose();
      model.dispose();
      return median(times.slice(1));
    });
  } finally {
    tf.dispose([x, y]);
  }
}

/**
 * The expected time: a round is one training step and every group, and a group costs about its
 * registry prior in training steps (measured: a round of all six groups takes 20–45 steps, the
 * priors say 19.7), with the step timed here (`stepSeconds`).
 */
export function estimateCostSeconds(o: CostOptions, spec: Settings['data']): number {
  const perRound = 1 + o.groups.reduce((s, g) => s + GROUPS[g].priorSteps, 0);
  return stepSeconds(networksOf(o.architectures), spec, o.batchSize, o.seed).reduce((s, step) => s + (o.warmup + o.runs) * perRound * step, 0);
}
