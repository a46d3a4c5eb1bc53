/**
 * The `fitness` experiment's analysis: every trained candidate is rebuilt with the weights it
 * started training from (same zoo options, same seed), measured at initialisation on the same
 * scoring batches — gradcond's metrics and every zero-cost proxy — and judged against the
 * validation accuracy its run reached (validate.ts). The report puts the fitness score and the
 * proxies in one table, the evidence behind the rule in another, and one scatter plot per method.
 */
import { z } from 'zod';
import type { RunOutcome } from '../compare/outcome.js';
import { loadData } from '../data/registry.js';
import { perExampleLoss } from '../engine/losses.js';
import { scatterSpec, type ScatterRow } from '../experiments/plots.js';
import { formatCorrelation } from '../experiments/stats.js';
import type { Analysis, AnalysisInput, AnalysisResult, AnalysedRun, Variant } from '../experiments/types.js';
import { buildModel } from '../models/zoo.js';
import type { ReportPlot } from '../report/doc.js';
import type { JsonValue } from '../trace/index.js';
import { parseOptions } from '../validation.js';
import { type ScoringBatch, disposeBatches, drawBatches } from './batches.js';
import { RULE_POOL } from './fit.js';
import { measureFitnessMetrics } from './metrics.js';
import { computeProxies } from './proxies/index.js';
import { validationSections, validationFindings } from './validationReport.js';
import { type MethodResult, type TrainedCandidate, validate } from './validate.js';

const OptionsSchema = z.strictObject({
  /** Scoring batches: examples each, how many, and the seed of which examples. */
  batchSize: z.number().int().min(2).default(32),
  batches: z.number().int().min(2).default(4),
  seed: z.number().int().nonnegative().default(0),
  /** Smallest |ρ| for a metric to enter the rule. */
  minRho: z.number().min(0).max(1).default(0.3),
  resamples: z.number().int().min(2000).default(4000),
});

/**
 * The accuracy a run reached: its last validation accuracy. A diverged run counts at chance
 * (1/classes): it reached nothing. A failed or unfinished run has none and is left out.
 */
export function reachedAccuracy(o: RunOutcome, classes: number): number | null {
  if (o.status === 'failed' || o.status === 'incomplete') return null;
  if (o.status === 'diverged') return 1 / classes;
  return o.finalValAccuracy;
}

/** A trained candidate measured at its initialisation. */
function measureRun(run: AnalysedRun, batches: ScoringBatch[], shape: { inputShape: number[]; classes: number }): TrainedCandidate {
  const accuracy = reachedAccuracy(run.outcome, shape.classes);
  const model = 'zoo' in run.spec.model
    ? buildModel(run.spec.model.zoo, { ...run.spec.model.options, inputShape: shape.inputShape, classes: shape.classes, seed: run.spec.seed })
    : null;
  if (!model) {
    const none = { value: null, reason: 'a saved model: its initialisation is unknown' } as const;
    return { id: run.id, accuracy, metrics: Object.fromEntries(RULE_POOL.map((m) => [m, none])), proxies: {} };
  }
  try {
    const loss = perExampleLoss(run.spec.loss);
    const metrics = measureFitnessMetrics(model, batches, { loss, metrics: RULE_POOL });
    const proxies = computeProxies(model, batches[0]!.x, batches[0]!.y, { loss: run.spec.loss });
    return { id: run.id, accuracy, metrics, proxies };
  } finally {
    model.dispose();
  }
}

/** One scatter plot per method: its value at initialisation against the accuracy reached. */
function plots(m: readonly MethodResult[], runs: readonly AnalysedRun[], accuracies: (number | null)[]): ReportPlot[] {
  const groups = [...new Set(runs.map((r) => r.cell.architecture))];
  return m.map((res) => {
    const rows: ScatterRow[] = runs.flatMap((r, i) => {
      const x = res.values[i];
      const y = accuracies[i];
      return x === null || x === undefined || y === null || y === undefined ? [] : [{ x, y, group: r.cell.architecture, label: r.cell.depth === null ? '' : String(r.cell.depth), run: r.id }];
    });
    return {
      title: res.method,
      spec: scatterSpec({ rows, x: `${res.method} at initialisation`, y: 'validation accuracy reached', groups, title: `${res.method}: ${formatCorrelation(res.correlation)}` }),
      caption: `One point per candidate, labelled with its depth. ${res.values.filter((v) => v === null).length} candidate(s) without a value are not drawn.`,
    };
  });
}

async function analyse(input: AnalysisInput): Promise<AnalysisResult> {
  const o = parseOptions(OptionsSchema, input.options, `analysis options of '${input.definition.name}'`);
  const settings = input.definition[input.variant].settings;
  const { train } = loadData(settings.data);
  const batches = drawBatches(train, o.batchSize, o.batches, o.seed);
  const shape = { inputShape: train.inputShape, classes: train.classes };
  const candidates: TrainedCandidate[] = [];
  try {
    for (const [i, run] of input.runs.entries()) {
      const t0 = performance.now();
      candidates.push(measureRun(run, batches, shape));
      input.log(`fitness: measured ${run.id} at initialisation (${i + 1}/${input.runs.length}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    disposeBatches(batches);
  }
  const v = validate(candidates, { minRho: o.minRho, resamples: o.resamples, seed: 0 });
  const accuracies = candidates.map((c) => c.accuracy);
  const sections = validationSections(v, candidates, input.runs.map((r) => ({ id: r.id, status: r.outcome.status })), o);
  sections.push({ title: 'Score against accuracy reached, per method', plots: plots(v.methods.filter((m) => m.kind !== 'gate'), input.runs, accuracies) });
  const results = {
    options: o,
    candidates: candidates.map((c, i) => ({
      id: c.id, accuracy: c.accuracy, status: input.runs[i]!.outcome.status, looScore: v.leaveOneOut[i]!.score, looReason: v.leaveOneOut[i]!.reason,
      metrics: Object.fromEntries(Object.entries(c.metrics).map(([k, m]) => [k, m!.value])),
      proxies: Object.fromEntries(Object.entries(c.proxies).map(([k, m]) => [k, m.value])),
    })),
    methods: v.methods.map((m) => ({ method: m.method, kind: m.kind, ...m.correlation })),
    rule: v.rule,
    sensitivity: v.sensitivity.map((s) => ({ minRho: s.minRho, ...s.correlation })),
  } as unknown as JsonValue;
  return { results, sections, findings: validationFindings(v) };
}

/** Seconds to measure each candidate here: about two seconds per fully connected one, ten per convolutional one. */
function estimateSeconds(variant: Variant): number {
  return variant.blocks.flatMap((b) => b.architectures.map((a) => ({ a, n: (a.depths ?? b.depths ?? [1]).length * (a.widths ?? b.widths ?? [1]).length * b.seeds.length })))
    .reduce((s, { a, n }) => s + n * (a.zoo.startsWith('fc') || a.zoo === 'mlp' ? 2 : 10), 0);
}

export const fitnessAnalysis: Analysis = {
  name: 'fitness',
  description: 'the fitness score (leave-one-out) and every zero-cost proxy at initialisation against the accuracy each candidate reached: Spearman ρ with bootstrap intervals',
  run: analyse,
  estimateSeconds,
};
