/**
 * Chapter-4 experiment 3 (thesis figures 2.3, 3.1, 3.6, 3.14, 3.15, 3.18, 4.1, 4.2): how far a
 * random mask (thesis section 1.6) moves each metric from its unmasked value, and what it saves.
 *
 * For each network, at initialisation and after some training, on several batches: every metric
 * without a mask (the reference), then with masks of every fraction p and several seeds, each
 * group measured on its own (see `measureEachGroup`) and timed. Per metric and p: the mean
 * absolute and mean relative error against the reference; per group and p: the median time, also
 * as a ratio to the unmasked time; and the smallest p from which the mean relative error stays
 * under a threshold (5%), with the time saved there.
 *
 * What a mask cannot help: the input-side samples are never masked (the input gradients of
 * stableRankX / rankX live in input space), descentRatio's loss change and prediction use whole
 * vectors, and kappaX's cost is its 2n perturbed per-example passes, which no mask shortens.
 */
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { trainStep } from '../bench/trainStep.js';
import { median } from '../compare/stats.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { epochPermutation } from '../data/random.js';
import { loadData } from '../data/registry.js';
import { type PerExampleLoss, perExampleLoss } from '../engine/losses.js';
import { createMask, type Mask } from '../engine/mask.js';
import { parameterCount } from '../engine/params.js';
import { UsageError } from '../errors.js';
import { GROUPS, METRICS, METRIC_NAMES, type MetricName, SAMPLED_GROUPS, type SampledGroup, metricsOfGroup } from '../metrics/registry.js';
import type { ReportPlot, ReportTable, Section } from '../report/doc.js';
import type { JsonValue } from '../trace/format.js';
import { parseOptions } from '../validation.js';
import { type GroupProbe, type Network, buildNetwork, createOptimizer, measureEachGroup, networksOf, stepSeconds } from './cost.js';
import { type Analysis, type AnalysisInput, type AnalysisResult, ArchitectureAxisSchema, type Settings, type Variant } from './types.js';

// ---------------------------------------------------------------------------------------------
// Options

const count = (what: string) => z.number({ error: `${what} must be a positive integer` }).int().positive();
const fractionOf = z.number().gt(0, { error: 'mask fractions must be in (0, 1]' }).lte(1, { error: 'mask fractions must be in (0, 1]' });

/** The analysis options of a mask variant (its `analysis` field). */
export const MaskOptionsSchema = z.strictObject({
  /** The networks: each architecture's depths × widths. */
  architectures: z.array(ArchitectureAxisSchema).min(1),
  /** Mask fractions; 1 (no mask) is always added, as the time baseline and a check. */
  fractions: z.array(fractionOf).min(1),
  /** Masks per fraction (seeds 1…maskSeeds). */
  maskSeeds: count('maskSeeds'),
  /** Batches measured at each stage. */
  batches: count('batches'),
  batchSize: count('batchSize'),
  /** Stages: training steps taken before measuring (0: at initialisation). */
  trainSteps: z.array(z.number().int().nonnegative()).min(1).default([0]),
  learningRate: z.number().positive().default(0.01),
  eta: z.number().positive().default(1e-3),
  inputDirections: count('inputDirections').default(4),
  groups: z.array(z.enum(SAMPLED_GROUPS as [SampledGroup, ...SampledGroup[]])).min(1).default([...SAMPLED_GROUPS]),
  /** The relative error a mask may cost (default 5%). */
  threshold: z.number().gt(0).lt(1).default(0.05),
  seed: z.number().int().nonnegative().default(0),
});
export type MaskOptions = z.output<typeof MaskOptionsSchema>;

/** The fractions measured: the options', plus 1, ascending, each once. */
export function fractionsOf(o: Pick<MaskOptions, 'fractions'>): number[] {
  return [...new Set([...o.fractions, 1])].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** One measurement: every metric and group time of one network, stage, batch and mask. */
export interface MaskRow {
  network: string;
  params: number;
  /** Training steps taken before it. */
  stage: number;
  batch: number;
  /** The mask fraction (1: no mask). */
  p: number;
  /** The mask's seed; null without a mask. */
  maskSeed: number | null;
  /** Kept coordinates over all coordinates (1 without a mask). */
  kept: number;
  /** The unmasked measurement every row of its network, stage and batch is compared with. */
  reference: boolean;
  values: Partial<Record<MetricName, number | null>>;
  ms: Partial<Record<SampledGroup, number>>;
}

/** The masks of every fraction below 1 and seed, made once per network (as a run makes its mask once). */
function masksOf(model: tf.LayersModel, o: MaskOptions): { p: number; seed: number; mask: Mask }[] {
  const sizes = model.trainableWeights.map((w) => w.read().size);
  return fractionsOf(o).filter((p) => p < 1).flatMap((p) =>
    Array.from({ length: o.maskSeeds }, (_, i) => ({ p, seed: i + 1, mask: createMask(sizes, p, o.seed * 1000 + i + 1)! })),
  );
}

/** `steps` training steps on consecutive batches of a seeded shuffle, continuing from step `from`. */
function train(model: tf.LayersModel, opt: tf.Optimizer, loss: PerExampleLoss, data: Dataset, o: MaskOptions, from: number, steps: number): void {
  const perEpoch = Math.floor(data.size / o.batchSize);
  for (let s = from; s < from + steps; s++) {
    const order = epochPermutation(data.size, o.seed, Math.floor(s / perEpoch));
    const start = (s % perEpoch) * o.batchSize;
    const { x, y } = batchTensors(data, order.subarray(start, start + o.batchSize));
    trainStep(model, opt, loss, x, y);
    tf.dispose([x, y]);
  }
}

/** The reference, then every mask, on one batch (p = 1 measured again: its error must be 0). */
function measureBatchRows(probe: GroupProbe, masks: ReturnType<typeof masksOf>, o: MaskOptions, x: tf.Tensor, y: tf.Tensor, at: Pick<MaskRow, 'network' | 'params' | 'stage' | 'batch'>): MaskRow[] {
  const row = (p: number, maskSeed: number | null, mask: Mask | null, reference: boolean): MaskRow => {
    const m = measureEachGroup(probe, x, y, o.groups, mask);
    const values = Object.fromEntries(Object.entries(m.values).map(([k, v]) => [k, v!.value]));
    return { ...at, p, maskSeed, kept: mask ? mask.indices.length / mask.size : 1, reference, values, ms: m.durations };
  };
  return [row(1, null, null, true), row(1, null, null, false), ...masks.map((k) => row(k.p, k.seed, k.mask, false))];
}

/** Every row of one network: `batches` evaluation batches at each stage. */
function measureNetwork(n: Network, o: MaskOptions, settings: Settings, data: Dataset, log: (line: string) => void): MaskRow[] {
  const model = buildNetwork(n, data.inputShape, data.classes, o.seed);
  const loss = perExampleLoss(settings.loss);
  const opt = createOptimizer(settings, o.learningRate);
  const probe: GroupProbe = { model, loss, eta: o.eta, inputDirections: o.inputDirections, learningRate: o.learningRate };
  const params = parameterCount(model);
  const masks = masksOf(model, o);
  const rows: MaskRow[] = [];
  /** `fn` on evaluation batch k (consecutive examples), its tensors disposed whatever happens. */
  const onBatch = <T>(k: number, fn: (x: tf.Tensor, y: tf.Tensor) => T): T => {
    const { x, y } = batchTensors(data, Int32Array.from({ length: o.batchSize }, (_, i) => (k * o.batchSize + i) % data.size));
    try {
      return fn(x, y);
    } finally {
      tf.dispose([x, y]);
    }
  };
  try {
    // Kernels and caches, without a mask and at every fraction, before anything is timed.
    onBatch(0, (x, y) => [null, ...masks.filter((m) => m.seed === 1).map((m) => m.mask)].forEach((mask) => measureEachGroup(probe, x, y, o.groups, mask)));
    let done = 0;
    for (const stage of [...new Set(o.trainSteps)].sort((a, b) => a - b)) {
      train(model, opt, loss, data, o, done, stage - done);
      done = stage;
      for (let b = 0; b < o.batches; b++) rows.push(...onBatch(b, (x, y) => measureBatchRows(probe, masks, o, x, y, { network: n.label, params, stage, batch: b })));
      log(`masks: ${n.label} (${params} parameters), stage ${stage}: ${o.batches} batch(es) measured`);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  return rows;
}

/** Every row of every network, on the settings' training data. */
export function measureMasks(o: MaskOptions, settings: Settings, log: (line: string) => void = () => {}): MaskRow[] {
  const data = loadData(settings.data).train;
  if (data.size < o.batchSize) throw new UsageError(`mask experiment: batchSize ${o.batchSize} needs at least that many training examples, the data has ${data.size}`);
  return networksOf(o.architectures).flatMap((n) => measureNetwork(n, o, settings, data, log));
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Sums over the kept coordinates (docs: about p times the unmasked value): their masked value
 * is divided by the kept fraction before it is compared, which makes it an estimate of the
 * unmasked value.
 */
export const EXTENSIVE: ReadonlySet<MetricName> = new Set<MetricName>(['traceSigma', 'gradSqEstimate']);

/** Metrics no mask changes, and why. */
export const NEVER_MASKED: Readonly<Partial<Record<MetricName, string>>> = {
  stableRankX: 'input gradients live in input space, which no parameter mask touches',
  rankX: 'input gradients live in input space, which no parameter mask touches',
  descentRatio: 'the loss change and its first-order prediction ⟨h̄, Δ⟩ use whole vectors',
};

/** How one masked value compares with its reference. */
export type SampleError =
  | { kind: 'error'; abs: number; /** null when the reference is 0 */ rel: number | null; /** (v − r) / |r|: rel with its sign */ signed: number | null }
  | { kind: 'both-null' }
  | { kind: 'null-mismatch' };

/**
 * `abs = |v − r|`, `rel = |v − r| / |r|` and `signed = (v − r) / |r|`, with v the masked value (divided by the kept fraction
 * for an extensive metric) and r the unmasked one. A metric undefined in both is not compared;
 * undefined in one only is counted as a mismatch.
 */
export function sampleError(metric: MetricName, masked: number | null | undefined, reference: number | null | undefined, kept: number): SampleError {
  const [v, r] = [masked ?? null, reference ?? null];
  if (v === null && r === null) return { kind: 'both-null' };
  if (v === null || r === null) return { kind: 'null-mismatch' };
  const estimate = EXTENSIVE.has(metric) ? v / kept : v;
  const abs = Math.abs(estimate - r);
  return { kind: 'error', abs, rel: r === 0 ? null : abs / Math.abs(r), signed: r === 0 ? null : (estimate - r) / Math.abs(r) };
}

/** A metric's errors at one fraction, over one network's samples (or all networks': `network` = 'all'). */
export interface ErrorStat {
  network: string;
  metric: MetricName;
  p: number;
  /** Mean of |v − r| over the samples both define; null when there is none. */
  meanAbs: number | null;
  /** Mean of |v − r| / |r| over the samples with r ≠ 0; null when there is none. */
  meanRel: number | null;
  /** Mean of (v − r) / |r| over the same samples: near ±meanRel, the mask biases the metric; near 0, it only adds noise. */
  bias: number | null;
  /** Samples compared, samples with a relative error, samples defined with or without the mask only. */
  n: number;
  nRel: number;
  mismatched: number;
}

const referenceKey = (r: Pick<MaskRow, 'network' | 'stage' | 'batch'>) => `${r.network}|${r.stage}|${r.batch}`;

/** Every metric's errors by network and fraction, then pooled over the networks ('all'). */
export function errorStats(rows: readonly MaskRow[]): ErrorStat[] {
  const refs = new Map(rows.filter((r) => r.reference).map((r) => [referenceKey(r), r]));
  const acc = new Map<string, { abs: number[]; rel: number[]; signed: number[]; mismatched: number; network: string; metric: MetricName; p: number }>();
  for (const row of rows) {
    if (row.reference) continue;
    const ref = refs.get(referenceKey(row));
    if (!ref) throw new UsageError(`mask rows: no unmasked reference for ${row.network}, stage ${row.stage}, batch ${row.batch}`);
    for (const metric of METRIC_NAMES) {
      if (!(metric in ref.values)) continue;
      const e = sampleError(metric, row.values[metric], ref.values[metric], row.kept);
      for (const network of [row.network, 'all']) {
        const key = `${network}|${metric}|${row.p}`;
        const a = acc.get(key) ?? { abs: [], rel: [], signed: [], mismatched: 0, network, metric, p: row.p };
        acc.set(key, a);
        if (e.kind === 'null-mismatch') a.mismatched++;
        if (e.kind !== 'error') continue;
        a.abs.push(e.abs);
        if (e.rel !== null) a.rel.push(e.rel);
        if (e.signed !== null) a.signed.push(e.signed);
      }
    }
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : null);
  return [...acc.values()].map((a) => ({
    network: a.network, metric: a.metric, p: a.p, meanAbs: mean(a.abs), meanRel: mean(a.rel), bias: mean(a.signed), n: a.abs.length, nRel: a.rel.length, mismatched: a.mismatched,
  }));
}

// ---------------------------------------------------------------------------------------------
// Times and thresholds

/** A group's time at one fraction on one network (or the median of the networks' ratios: 'all'). */
export interface TimeStat {
  network: string;
  group: SampledGroup;
  p: number;
  /** Median ms over the network's measurements at p (null for 'all'). */
  medianMs: number | null;
  /** Median ms at p over median ms without a mask; for 'all', the median of the networks' ratios. */
  ratio: number;
}

/** Median times by network, group and fraction; the reference rows count as p = 1. */
export function timeStats(rows: readonly MaskRow[]): TimeStat[] {
  const by = new Map<string, number[]>();
  for (const r of rows) for (const [g, v] of Object.entries(r.ms)) {
    const key = `${r.network}|${g}|${r.p}`;
    by.set(key, [...(by.get(key) ?? []), v]);
  }
  const out: TimeStat[] = [];
  for (const [key, times] of by) {
    const [network, group, p] = key.split('|') as [string, SampledGroup, string];
    const base = median(by.get(`${network}|${group}|1`)!);
    const medianMs = median(times);
    out.push({ network, group, p: Number(p), medianMs, ratio: medianMs / base });
  }
  const pooled = new Map<string, number[]>();
  for (const t of out) pooled.set(`${t.group}|${t.p}`, [...(pooled.get(`${t.group}|${t.p}`) ?? []), t.ratio]);
  for (const [key, rs] of pooled) {
    const [group, p] = key.split('|') as [SampledGroup, string];
    out.push({ network: 'all', group, p: Number(p), medianMs: null, ratio: median(rs) });
  }
  return out;
}

/** Per metric: the smallest fraction from which its pooled mean relative error stays under the threshold. */
export interface Threshold {
  metric: MetricName;
  group: SampledGroup;
  /** null: no fraction below 1 keeps the error under the threshold… and 1 is not in the data either. */
  p: number | null;
  /** Pooled mean relative error at p. */
  meanRel: number | null;
  /** 1 − (group time at p) / (group time without a mask), median over networks; negative: slower. */
  timeSaved: number | null;
  /** False when every compared sample had error exactly 0: the mask does not touch the metric. */
  masked: boolean;
  /** The pooled errors at the smallest fraction measured and at the largest below 1. */
  smallest: ErrorStat | null;
  largest: ErrorStat | null;
}

/** The threshold row of every metric the errors cover, in registry order. */
export function thresholds(errors: readonly ErrorStat[], times: readonly TimeStat[], threshold: number): Threshold[] {
  const pooled = errors.filter((e) => e.network === 'all');
  return METRIC_NAMES.filter((m) => pooled.some((e) => e.metric === m)).map((metric) => {
    const group = METRICS[metric].group as SampledGroup;
    const mine = pooled.filter((e) => e.metric === metric).sort((a, b) => b.p - a.p);
    let best: ErrorStat | null = null;
    for (const e of mine) {
      if (e.meanRel === null || e.meanRel >= threshold || e.mismatched > 0) break;
      best = e;
    }
    const at = best?.p;
    const ratio = at === undefined ? undefined : times.find((t) => t.network === 'all' && t.group === group && t.p === at)?.ratio;
    const masked = mine.some((e) => (e.meanAbs ?? 0) > 0 || e.mismatched > 0);
    const below = mine.filter((e) => e.p < 1);
    return {
      metric, group, p: best?.p ?? null, meanRel: best?.meanRel ?? null, timeSaved: ratio === undefined ? null : 1 - ratio, masked,
      smallest: below.at(-1) ?? null, largest: below[0] ?? null,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 2 : 1)}%`);

function errorPlot(errors: readonly ErrorStat[], field: 'meanRel' | 'meanAbs', threshold: number): ReportPlot {
  const values = errors.filter((e) => e.network !== 'all' && (e[field] ?? 0) > 0).map((e) => ({ network: e.network, metric: e.metric, p: e.p, value: e[field] }));
  const x = { field: 'p', type: 'quantitative', scale: { type: 'log' }, title: 'mask fraction p' };
  const y = { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: field === 'meanRel' ? 'mean relative error' : 'mean absolute error' };
  const lines = { mark: { type: 'line', point: { filled: true, size: 20 } }, encoding: { x, y, color: { field: 'network', type: 'nominal', title: 'network' } } };
  const layer = field === 'meanRel' ? [lines, { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { datum: threshold } } }] : [lines];
  const spec = {
    data: { values }, facet: { field: 'metric', type: 'nominal', title: null, sort: METRIC_NAMES }, columns: 4,
    spec: { width: 150, height: 100, layer }, resolve: { scale: { y: 'independent' } },
  };
  const what = field === 'meanRel' ? 'Mean relative error' : 'Mean absolute error';
  return {
    title: `${what} against the mask fraction`, spec: spec as never,
    caption: `Mean over batches, stages and mask seeds of each network; log axes, so zero errors (p = 1, and metrics no mask changes) are not drawn${field === 'meanRel' ? `; the dashed line is ${pct(threshold)}` : ''}.`,
  };
}

function timePlot(times: readonly TimeStat[]): ReportPlot {
  const values = times.filter((t) => t.network !== 'all').map((t) => ({ network: t.network, group: t.group, p: t.p, ratio: t.ratio }));
  const spec = {
    data: { values }, facet: { field: 'group', type: 'nominal', title: null, sort: SAMPLED_GROUPS }, columns: 3,
    spec: {
      width: 170, height: 110,
      layer: [
        { mark: { type: 'line', point: { filled: true, size: 20 } }, encoding: {
          x: { field: 'p', type: 'quantitative', scale: { type: 'log' }, title: 'mask fraction p' },
          y: { field: 'ratio', type: 'quantitative', title: 'time / unmasked time' },
          color: { field: 'network', type: 'nominal', title: 'network' },
        } },
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { datum: 1 } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
  return { title: 'Group time against the mask fraction', spec: spec as never, caption: 'Median time of the group at p over its median time without a mask, per network; below 1 the mask saves time.' };
}

function thresholdTable(rows: readonly Threshold[], threshold: number): ReportTable {
  return {
    columns: ['metric', 'group', `smallest p with error < ${pct(threshold)}`, 'mean relative error there', 'time saved there', 'error (bias) at the smallest p', 'note'],
    rows: rows.map((t) => [
      `\`${t.metric}\``, t.group, pCell(t), t.masked ? pct(t.meanRel) : '0', t.masked && t.p !== 1 ? pct(t.timeSaved) : '—',
      t.smallest ? `${pct(t.smallest.meanRel)} (${t.smallest.bias !== null && t.smallest.bias > 0 ? '+' : ''}${pct(t.smallest.bias)}) at p = ${t.smallest.p}` : '—', noteOf(t, threshold),
    ]),
    caption: `The smallest fraction p from which the mean relative error (pooled over networks, stages, batches and mask seeds) stays under ${pct(threshold)} at every larger p measured. Time saved is the group's; negative means the mask costs more than it saves. The bias is the mean signed relative error: close to ± the error, the mask shifts the metric one way.`,
  };
}

function pCell(t: Threshold): string {
  if (!t.masked) return 'any';
  if (t.p === null) return 'none';
  return t.p === 1 ? '1 (no mask)' : String(t.p);
}

/** A mask biases a metric where its signed error is nearly all of its error, and the error is large. */
function biased(e: ErrorStat | null, threshold: number): string | null {
  if (!e || e.bias === null || e.meanRel === null || e.meanRel < threshold || Math.abs(e.bias) < 0.8 * e.meanRel) return null;
  return `biased ${e.bias < 0 ? 'low' : 'high'} under small masks`;
}

function noteOf(t: Threshold, threshold: number): string {
  const why = NEVER_MASKED[t.metric];
  if (!t.masked) return `not masked: ${why ?? 'exactly unchanged in every sample'}`;
  const notes = [
    biased(t.smallest, threshold),
    t.group === 'inputPerturbation' ? 'its cost is 2n perturbed per-example passes, which a mask cannot shorten' : null,
    EXTENSIVE.has(t.metric) ? 'compared after dividing by the kept fraction' : null,
  ];
  return notes.filter((n) => n !== null).join('; ');
}

/** How a saving reads: "12.0% shorter" or "30.0% longer". */
function saving(group: string, saved: number | null): string {
  return saved === null ? `${group} time not measured` : `${group} time ${saved < 0 ? `${pct(-saved)} longer` : `${pct(saved)} shorter`} than unmasked`;
}

/** One sentence per masked metric (its threshold and saving) and one on the metrics a mask cannot change. */
export function maskFindings(rows: readonly Threshold[], threshold: number): string[] {
  const untouched = rows.filter((t) => !t.masked).map((t) => t.metric);
  const found = rows.filter((t) => t.masked).map((t) => {
    const at = t.largest ? ` (${pct(t.largest.meanRel)} at p = ${t.largest.p}, bias ${pct(t.largest.bias)})` : '';
    if (t.p === null || t.p === 1) return `${t.metric}: no mask fraction below 1 keeps its mean relative error under ${pct(threshold)}${at}`;
    return `${t.metric}: mean relative error under ${pct(threshold)} from p = ${t.p} (${pct(t.meanRel)} there), ${saving(t.group, t.timeSaved)}`;
  });
  const notes = untouched.length ? [`A mask leaves ${untouched.join(', ')} exactly unchanged (input-space or whole-vector quantities): it can make them neither cheaper nor less accurate.`] : [];
  return [...found, ...notes];
}

export function maskSections(errors: readonly ErrorStat[], times: readonly TimeStat[], rows: readonly Threshold[], o: MaskOptions): Section[] {
  const groups = o.groups.map((g) => `${g} (${metricsOfGroup(g).map((m) => m.name).join(', ')})`).join('; ');
  return [
    {
      title: 'Error against the mask fraction',
      text: `Every metric with masks of fractions ${fractionsOf(o).join(', ')} (${o.maskSeeds} seed(s) each), against the same metric without a mask on the same batch and weights. Groups: ${groups}. traceSigma and gradSqEstimate are sums over the kept coordinates, so they are divided by the kept fraction before the comparison.`,
      plots: [errorPlot(errors, 'meanRel', o.threshold), errorPlot(errors, 'meanAbs', o.threshold)],
    },
    { title: 'Time against the mask fraction', text: 'Each group measured on its own, so its time is its whole cost.', plots: [timePlot(times)] },
    { title: `Where the error falls below ${pct(o.threshold)}`, table: thresholdTable(rows, o.threshold) },
  ];
}

/** Rows, errors, times and thresholds as plain JSON. */
export function maskResults(rows: readonly MaskRow[], errors: readonly ErrorStat[], times: readonly TimeStat[], th: readonly Threshold[]): JsonValue {
  return { rows, errors, times, thresholds: th } as unknown as JsonValue;
}

/** The `masks` analysis: measures by itself (its variants have no training runs). */
export const masksAnalysis: Analysis = {
  name: 'masks',
  description: 'error and time of every metric under random masks of fractions 1% to 100%',
  run(input: AnalysisInput): AnalysisResult {
    const o = parseOptions(MaskOptionsSchema, input.options, 'the mask experiment\'s analysis options');
    const rows = measureMasks(o, input.definition[input.variant].settings, input.log);
    const errors = errorStats(rows);
    const times = timeStats(rows);
    const th = thresholds(errors, times, o.threshold);
    return { results: maskResults(rows, errors, times, th), sections: maskSections(errors, times, th, o), findings: maskFindings(th, o.threshold) };
  },
  estimateSeconds: (variant: Variant) => estimateMaskSeconds(parseOptions(MaskOptionsSchema, variant.analysis, 'the mask experiment\'s analysis options'), variant.settings.data),
};

/**
 * The expected time, in training steps timed here (`stepSeconds`): a measurement of all groups
 * costs about the sum of their registry priors (measured: 20–45 steps), a masked one up to
 * several times that (the masked vectors are gathered on every use: measured 1× for ResNets to
 * 7× for MLPs, taken as 3×), plus the stages' training steps and the warm-up.
 */
export function estimateMaskSeconds(o: MaskOptions, spec: Settings['data']): number {
  const perMeasure = o.groups.reduce((s, g) => s + GROUPS[g].priorSteps, 0);
  const fractions = fractionsOf(o).length - 1;
  const unmasked = o.trainSteps.length * o.batches * 2 + 1;
  const masked = o.trainSteps.length * o.batches * fractions * o.maskSeeds + fractions;
  const steps = Math.max(...o.trainSteps) + perMeasure * (unmasked + 3 * masked);
  return stepSeconds(networksOf(o.architectures), spec, o.batchSize, o.seed).reduce((s, step) => s + steps * step, 0);
}
