/**
 * The report of a comparison directory (compare.json + runs/<id>/): the comparison table with
 * its target, test and notes; the setup; training curves per policy (median over seeds, min–max
 * band) against examples seen and wall time; the learning rate and batch size each policy chose,
 * with its decisions; every sampled metric; each run's status with a link to its directory.
 * Runs not there yet are named, and the rest still reports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { COMPARE_FILE, type ComparisonFile } from '../compare/compare.js';
import { baselineOf, type CompareSpec } from '../compare/compareSpec.js';
import { FAILURE_FILE } from '../compare/outcome.js';
import { buildTable, tableRows, type ComparisonTable } from '../compare/table.js';
import { UsageError } from '../errors.js';
import { schemaProblem } from '../stream/types.js';
import { MANIFEST_FILE, TraceError } from '../trace/format.js';
import type { ReportDoc, ReportTable, Section } from './doc.js';
import { readRunData } from './runData.js';
import { limitsOf, type PlotLimits, type PolicyRuns, curvePlots, knobPlots, metricPlots, reductionText } from './runPlots.js';
import { colourScale } from './specs.js';
import { type RunEntry, healthTable, nullsTable, runsTable } from './tables.js';

export interface ReportOptions extends Partial<PlotLimits> {
  /** The directory the report will be written to: links to run directories are relative to it (default: the directory reported). */
  linkFrom?: string;
}

/** What the report reads of compare.json (a hand-edited or foreign file fails here, in one line). */
const ComparisonShape = z.looseObject({
  spec: z.looseObject({
    policies: z.array(z.looseObject({ name: z.string() })).min(1),
    seeds: z.array(z.number()),
    budget: z.looseObject({ kind: z.string(), value: z.number() }),
    model: z.looseObject({}),
    data: z.looseObject({}),
    optimizer: z.string(),
    learningRate: z.number(),
    batchSize: z.number(),
    loss: z.string(),
    targetFraction: z.number(),
  }),
  runs: z.array(z.looseObject({ id: z.string(), policy: z.string(), seed: z.number(), dir: z.string() })),
  table: z.looseObject({ target: z.looseObject({}), notes: z.array(z.string()), test: z.string() }).nullable(),
  display: z.looseObject({ columns: z.array(z.string()), rows: z.array(z.array(z.string())) }).nullable(),
});

function readComparisonFile(dir: string): ComparisonFile {
  const file = path.join(dir, COMPARE_FILE);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: cannot read the comparison (${(err as Error).message.split('\n')[0]})`);
  }
  const problem = schemaProblem(ComparisonShape, value);
  if (problem !== null) throw new UsageError(`${file}: not a comparison file: ${problem}`);
  return value as ComparisonFile;
}

function failureMessage(file: string): string {
  try {
    return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { message?: unknown }).message ?? 'no message');
  } catch {
    return `${FAILURE_FILE} unreadable`;
  }
}

/** Reads every listed run that has a directory; the others are missing, with why when known. */
function readRuns(dir: string, file: ComparisonFile, limits: PlotLimits): RunEntry[] {
  return file.runs.map((r) => {
    const runDir = path.resolve(dir, r.dir);
    const entry: RunEntry = { id: r.id, policy: r.policy, seed: String(r.seed), dir: runDir, data: null };
    if (!fs.existsSync(path.join(runDir, MANIFEST_FILE))) {
      const failure = path.join(runDir, FAILURE_FILE);
      const failed = fs.existsSync(failure);
      entry.missing = failed ? `failed before its first record: ${failureMessage(failure)}` : 'not started yet';
      entry.missingStatus = failed ? 'failed' : 'missing';
      return entry;
    }
    try {
      entry.data = readRunData(runDir, limits, r.id);
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
      entry.missing = `unreadable: ${err.message}`;
    }
    return entry;
  });
}

const code = (v: unknown) => (v === undefined ? '—' : `\`${JSON.stringify(v)}\``);

/** The comparison's task, one row per field. */
function setupTable(spec: CompareSpec, seeds: number): ReportTable {
  const model = 'zoo' in spec.model ? `${spec.model.zoo} ${code(spec.model.options)}` : `\`${spec.model.path}\``;
  const rows: [string, string][] = [
    ['policies', spec.policies.map((p) => (p.options === undefined ? p.name : `${p.name} ${code(p.options)}`)).join(', ')],
    ['seeds', `${spec.seeds.join(', ')} (${seeds} per policy)`],
    ['budget per run', `${spec.budget.value.toLocaleString('en-US')} ${spec.budget.kind}`],
    ['model', model],
    ['data', code(spec.data)],
    ['optimizer', `${spec.optimizer}, initial learning rate ${spec.learningRate}, initial batch size ${spec.batchSize}`],
    ['loss', spec.loss],
    ['validation', spec.validateEvery === undefined ? 'at each epoch end' : `every ${spec.validateEvery} steps and at each epoch end`],
    ['metrics', code(spec.metrics)],
    ['baseline', baselineOf(spec)],
    ['target', `${Math.round(spec.targetFraction * 100)}% of the best validation accuracy any run reached`],
  ];
  return { columns: ['', ''], rows };
}

/** Which runs are missing or unfinished, or undefined when none is. */
function incompleteText(runs: readonly RunEntry[], missing: readonly RunEntry[]): string | undefined {
  const unfinished = runs.filter((r) => r.data?.outcome.status === 'incomplete');
  const lines = [
    missing.length ? `- **${missing.length} of ${runs.length} run(s) missing**: ${missing.map((r) => `${r.id} (${r.missing})`).join('; ')}.` : '',
    unfinished.length ? `- **${unfinished.length} run(s) unfinished** (no end in the trace: killed or still running): ${unfinished.map((r) => r.id).join(', ')}.` : '',
  ].filter(Boolean);
  return lines.length ? `${lines.join('\n')}\n\nThe plots and tables show what the runs present recorded.` : undefined;
}

/** The comparison table: compare.json's, or (unfinished comparison) one computed from the runs present. */
function resultsSection(file: ComparisonFile, runs: RunEntry[], missing: RunEntry[]): Section {
  let table: ComparisonTable | null = file.table;
  let display = file.display;
  let note = '';
  const present = runs.filter((r) => r.data !== null);
  if (table === null || display === null) {
    if (present.length === 0) return { title: 'Results', text: 'No run has started yet: there is nothing to tabulate.' };
    table = buildTable(present.map((r) => ({ policy: r.policy, seed: Number(r.seed), outcome: r.data!.outcome })), { baseline: baselineOf(file.spec), targetFraction: file.spec.targetFraction });
    display = tableRows(table);
    note = `**Provisional**: the comparison has not finished (compare.json holds no table yet), so this table is computed from the ${present.length} run(s) present. `;
  }
  const target = table.target.valAccuracy === null ? 'none (no validation)' : `${(100 * table.target.valAccuracy).toFixed(1)}% validation accuracy (${table.target.rule})`;
  const caption = [`${note}Medians [min–max] over seeds; * = significant. Target: ${target}.`, `Test: ${table.test}.`, ...table.notes].join('\n\n');
  return { title: 'Results', text: incompleteText(runs, missing), table: { columns: display.columns, rows: display.rows, caption } };
}

/** The report of the comparison in `dir` (see the module comment). */
export function comparisonReport(dir: string, opts: ReportOptions = {}): ReportDoc {
  const limits = limitsOf(opts);
  const file = readComparisonFile(dir);
  const runs = readRuns(dir, file, limits);
  const labels = [...new Set(file.runs.map((r) => r.policy))];
  const groups: PolicyRuns[] = labels.map((policy) => ({
    policy,
    runs: runs.filter((r) => r.policy === policy && r.data !== null).map((r) => ({ seed: r.seed, data: r.data! })),
  })).filter((g) => g.runs.length > 0);
  const colours = colourScale(labels);
  const missing = runs.filter((r) => r.data === null);
  const seeds = new Set(file.runs.map((r) => r.seed)).size;
  const health = healthTable(runs);
  const nulls = nullsTable(runs);
  const plotted: Section[] = groups.length === 0 ? [{ title: 'Training curves', text: 'No run has recorded anything yet: nothing to plot.' }] : [
    { title: 'Training curves', text: reductionText(groups, limits) || undefined, plots: curvePlots(groups, colours, limits) },
    { title: 'Learning rate and batch size', plots: knobPlots(groups, colours) },
    { title: 'Metrics', text: 'Each metric against examples seen, one panel per metric with its own y scale, one colour per policy.', plots: metricPlots(groups, colours, limits), sections: nulls ? [{ title: 'Null metrics', table: nulls }] : [] },
  ];
  const sections: Section[] = [
    resultsSection(file, runs, missing),
    { title: 'Setup', table: setupTable(file.spec, seeds) },
    ...plotted,
    { title: 'Runs', table: runsTable(runs, opts.linkFrom ?? dir), sections: health ? [{ title: 'Health findings', table: health }] : [] },
  ];
  const finished = file.finishedAt ? `finished ${file.finishedAt.slice(0, 16).replace('T', ' ')}` : 'not finished';
  return {
    title: `Comparison: ${labels.join(', ')}`,
    subtitle: `${file.spec.policies.length} policies × ${seeds} seed(s), ${file.spec.budget.value.toLocaleString('en-US')} ${file.spec.budget.kind} per run · \`${dir}\` · ${finished}`,
    sections,
  };
}
