/**
 * Experiment 5's analysis, "hyperparameter control" (the thesis, section 4.2.2): a grid of constant
 * runs over batch sizes × learning rates, and a block of policies at one cell — the thesis-driven
 * ones, the baselines and the literature's — judged as a comparison judges them (compare's
 * table: medians over seeds, test accuracy, examples and wall time to a target validation
 * accuracy, each against a baseline with the exact paired sign-flip test). The policy block is
 * also written as a comparison directory (`<dir>/policies/compare.json`), so that its training
 * curves, knobs and metrics come from the comparison report.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { COMPARE_FILE, type ComparisonFile } from '../compare/compare.js';
import type { CompareSpec } from '../compare/compareSpec.js';
import { smallestPValue } from '../compare/stats.js';
import { buildTable, tableRows, type ComparisonTable, type PolicyResult, type RunEntry } from '../compare/table.js';
import { comparisonReport } from '../report/comparison.js';
import type { ReportPlot, Section } from '../report/doc.js';
import type { JsonValue } from '../trace/index.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { parseOptions } from '../validation.js';
import { runsOfBlock } from './plan.js';
import { heatmapSpec, rangeSpec, type RangeRow } from './plots.js';
import { networkLabeller } from './series.js';
import type { Analysis, AnalysisInput, AnalysisResult, AnalysedRun } from './types.js';

const OptionsSchema = z.strictObject({
  /** The block of constant runs over batch sizes × learning rates. */
  grid: z.string().default('grid'),
  /** The block of policies at one cell. */
  policies: z.string().default('policies'),
  /** The policies' baseline (default 'constant'). */
  baseline: z.string().default('constant'),
  /** Time to target: this fraction of the best validation accuracy any run of the table reached. */
  targetFraction: z.number().gt(0).lte(1).default(0.95),
});
type Options = z.output<typeof OptionsSchema>;

const POLICY_DIR = 'policies';

function entriesOf(runs: readonly AnalysedRun[], label: (r: AnalysedRun) => string): RunEntry[] {
  return runs.map((r) => ({ policy: label(r), seed: r.cell.seed, outcome: r.outcome }));
}

/** The grid's table, against the cell the policies start from when the grid has it. */
function gridTable(grid: AnalysedRun[], policyRuns: AnalysedRun[], o: Options): { table: ComparisonTable; label: (r: AnalysedRun) => string } {
  const labelOf = networkLabeller(grid, false);
  const label = (r: AnalysedRun) => labelOf(r.cell) || 'constant';
  const start = policyRuns[0];
  const base = grid.find((r) => start && r.cell.batchSize === start.cell.batchSize && r.cell.learningRate === start.cell.learningRate && r.cell.architecture === start.cell.architecture) ?? grid[0]!;
  return { table: buildTable(entriesOf(grid, label), { baseline: label(base), targetFraction: o.targetFraction }), label };
}

function heatmap(grid: AnalysedRun[], table: ComparisonTable, label: (r: AnalysedRun) => string): ReportPlot {
  const cells = [...new Map(grid.map((r) => [label(r), r.cell])).entries()];
  const rows = cells.map(([l, c]) => {
    const acc = table.results.find((x) => x.policy === l)?.testAccuracy?.median ?? null;
    return { x: String(c.batchSize), y: String(c.learningRate), value: acc === null ? null : 100 * acc, text: acc === null ? '—' : (100 * acc).toFixed(1) };
  });
  const order = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b).map(String);
  return {
    title: 'constant runs: median test accuracy (%)',
    spec: heatmapSpec({ rows, x: 'batch size', y: 'learning rate', value: 'test acc %', xOrder: order(grid.map((r) => r.cell.batchSize)), yOrder: order(grid.map((r) => r.cell.learningRate)) }),
    caption: 'Median over seeds of the test accuracy at the end of each run; — where no run of the cell reached the test pass.',
  };
}

/** A policy block with a single cell apart from the policy becomes a comparison directory. */
function writeComparison(dir: string, runs: AnalysedRun[], table: ComparisonTable, label: (r: AnalysedRun) => string, o: Options): string | null {
  const first = runs[0];
  if (!first) return null;
  const same = (f: (r: AnalysedRun) => unknown) => runs.every((r) => JSON.stringify(f(r)) === JSON.stringify(f(first)));
  if (!same((r) => [r.spec.model, r.spec.batchSize, r.spec.learningRate, r.spec.metrics, r.spec.data, r.spec.budget])) return null;
  const policies = [...new Map(runs.map((r) => [label(r), r.spec.policy])).values()];
  const s = first.spec;
  const spec: CompareSpec = {
    policies, seeds: [...new Set(runs.map((r) => r.cell.seed))], model: s.model, data: s.data, optimizer: s.optimizer, learningRate: s.learningRate,
    batchSize: s.batchSize, loss: s.loss, budget: s.budget, metrics: s.metrics, baseline: o.baseline, targetFraction: o.targetFraction,
    ...(s.validateEvery !== undefined ? { validateEvery: s.validateEvery } : {}),
  };
  const sub = path.join(dir, POLICY_DIR);
  fs.mkdirSync(sub, { recursive: true });
  const file: ComparisonFile = {
    format: 1, spec,
    runs: runs.map((r) => ({ id: r.id, policy: label(r), seed: r.cell.seed, dir: path.relative(sub, path.join(dir, r.dir)), status: r.outcome.status, error: r.error ?? r.outcome.reason })),
    table, display: tableRows(table), startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(),
  };
  writeJsonAtomic(path.join(sub, COMPARE_FILE), file);
  return sub;
}

function policyPlots(table: ComparisonTable): ReportPlot[] {
  const order = table.results.map((r) => r.policy);
  const plot = (title: string, x: string, pick: (r: PolicyResult) => { median: number; min: number; max: number } | null, scale = 1, reference?: number): ReportPlot => {
    const rows: RangeRow[] = table.results.flatMap((r) => {
      const s = pick(r);
      return s ? [{ label: r.policy, median: s.median * scale, lo: s.min * scale, hi: s.max * scale }] : [];
    });
    return { title, spec: rangeSpec({ rows, x, order, ...(reference !== undefined ? { reference } : {}) }), caption: 'Dot: median over seeds; line: min–max. A policy missing from a plot had no run with that number (e.g. none reached the target).' };
  };
  const base = table.results.find((r) => r.policy === table.baseline);
  return [
    plot('policies: test accuracy (%)', 'test accuracy %', (r) => r.testAccuracy, 100, base?.testAccuracy ? 100 * base.testAccuracy.median : undefined),
    plot('policies: examples to target', 'examples seen to reach the target', (r) => r.examplesToTarget),
    plot('policies: wall time to target (s)', 'seconds to reach the target', (r) => r.secondsToTarget),
  ];
}

function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${(100 * v).toFixed(1)}%`;
}

function findingsOf(grid: ComparisonTable | null, policies: ComparisonTable | null): string[] {
  const out: string[] = [];
  if (grid) {
    const ranked = grid.results.filter((r) => r.testAccuracy).sort((a, b) => b.testAccuracy!.median - a.testAccuracy!.median);
    if (ranked.length) out.push(`Constant grid: best median test accuracy ${pct(ranked[0]!.testAccuracy!.median)} at ${ranked[0]!.policy}, worst ${pct(ranked.at(-1)!.testAccuracy!.median)} at ${ranked.at(-1)!.policy}; ${grid.results.reduce((a, r) => a + r.failed, 0)} run(s) diverged, died or failed.`);
  }
  if (policies) {
    const seeds = Math.max(0, ...policies.results.map((r) => r.runs));
    const diffs = policies.results.filter((r) => r.vsBaseline?.testAccuracy).map((r) => ({ policy: r.policy, c: r.vsBaseline!.testAccuracy! }));
    const fmt = (d: (typeof diffs)[number]) => `${d.policy} ${d.c.medianDiff >= 0 ? '+' : ''}${(100 * d.c.medianDiff).toFixed(1)} points [${(100 * d.c.interval[0]).toFixed(1)}, ${(100 * d.c.interval[1]).toFixed(1)}], p = ${d.c.pValue.toFixed(2)}`;
    const better = diffs.filter((d) => d.c.medianDiff > 0).sort((a, b) => b.c.medianDiff - a.c.medianDiff);
    const worse = diffs.filter((d) => d.c.medianDiff < 0).sort((a, b) => a.c.medianDiff - b.c.medianDiff);
    out.push(`Test accuracy against ${policies.baseline} (median paired difference, bootstrap interval, exact sign-flip p): higher for ${better.map(fmt).join('; ') || 'none'}; lower for ${worse.map(fmt).join('; ') || 'none'}.`);
    const significant = diffs.filter((d) => d.c.significant);
    out.push(significant.length ? `Significant at α = 0.05: ${significant.map((d) => d.policy).join(', ')}.` : `No difference is significant; with ${seeds} seed(s) the smallest possible p is ${smallestPValue(seeds).toFixed(3)}${smallestPValue(seeds) >= 0.05 ? ', so none could be: the full variant runs more seeds' : ''}.`);
    const fastest = policies.results.filter((r) => r.examplesToTarget).sort((a, b) => a.examplesToTarget!.median - b.examplesToTarget!.median)[0];
    if (fastest) out.push(`Fewest examples to the target (${pct(policies.target.valAccuracy)} validation accuracy): ${fastest.policy}, median ${Math.round(fastest.examplesToTarget!.median)} (${fastest.reachedTarget}/${fastest.runs} runs reached it).`);
  }
  return out;
}

async function analyse(input: AnalysisInput): Promise<AnalysisResult> {
  const o = parseOptions(OptionsSchema, input.options, `analysis options of '${input.definition.name}'`);
  const grid = runsOfBlock(input.runs, o.grid);
  const policyRuns = runsOfBlock(input.runs, o.policies);
  const sections: Section[] = [];
  let gridT: ComparisonTable | null = null;
  if (grid.length) {
    const { table, label } = gridTable(grid, policyRuns, o);
    gridT = table;
    const d = tableRows(table);
    sections.push({ title: 'Constant runs: batch size × learning rate', plots: [heatmap(grid, table, label)], table: { columns: ['cell', ...d.columns.slice(1)], rows: d.rows, caption: [`Target: ${pct(table.target.valAccuracy)} validation accuracy (${table.target.rule}). Medians [min–max] over seeds; * = significant.`, `Test: ${table.test}.`, ...table.notes].join('\n\n') } });
  }
  let policyT: ComparisonTable | null = null;
  if (policyRuns.length) {
    const labelOf = networkLabeller(policyRuns, false);
    const label = (r: AnalysedRun) => labelOf(r.cell) || r.cell.policy;
    policyT = buildTable(entriesOf(policyRuns, label), { baseline: o.baseline, targetFraction: o.targetFraction });
    const d = tableRows(policyT);
    const sub = writeComparison(input.dir, policyRuns, policyT, label, o);
    const curves = sub ? comparisonReport(sub, { linkFrom: input.dir }).sections.filter((s) => ['Training curves', 'Learning rate and batch size', 'Metrics'].includes(s.title)) : [];
    sections.push({
      title: 'Policies',
      text: sub ? `The policy block is also a comparison directory: \`gradcond report ${sub}\` reports it alone.` : undefined,
      plots: policyPlots(policyT),
      table: { columns: d.columns, rows: d.rows, caption: [`Target: ${pct(policyT.target.valAccuracy)} validation accuracy (${policyT.target.rule}). Medians [min–max] over seeds; * = significant.`, `Test: ${policyT.test}.`, ...policyT.notes].join('\n\n') },
      sections: curves,
    });
  }
  const results = { grid: gridT, policies: policyT } as unknown as JsonValue;
  const findings = findingsOf(gridT, policyT);
  if (!grid.length && !policyRuns.length) findings.push(`No runs in blocks '${o.grid}' or '${o.policies}': nothing to compare.`);
  return { results, sections, findings: findings.map((f) => f.replace(/NaN/g, '—')) };
}

export const controlAnalysis: Analysis = {
  name: 'control',
  description: 'constant runs over batch sizes × learning rates, and policies against a baseline: compare\'s table (medians, time to target, exact paired test)',
  run: analyse,
};
