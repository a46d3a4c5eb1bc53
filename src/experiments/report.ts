/**
 * The frame of every experiment's report: the question and the thesis figures, the findings, the
 * analysis' own sections, then the setup (settings and grid), the time (estimated against
 * measured) and every run with its status and a link to its directory.
 */
import * as path from 'node:path';
import type { ReportDoc, ReportTable, Section } from '../report/doc.js';
import { dirLink, int, num, pct } from '../report/tables.js';
import { formatDuration } from './estimate.js';
import type { ExperimentFile } from './run.js';
import type { Block } from './types.js';

const code = (v: unknown) => `\`${JSON.stringify(v)}\``;

function settingsTable(file: ExperimentFile): ReportTable {
  const s = file.variantDefinition.settings;
  const rows: [string, string][] = [
    ['data', code(s.data)],
    ['optimizer', s.optimizer],
    ['loss', s.loss],
    ['budget per run', `${s.budget.value.toLocaleString('en-US')} ${s.budget.kind}`],
    ['validation', s.validateEvery === undefined ? 'at each epoch end' : `every ${s.validateEvery} steps and at each epoch end`],
    ['metric options', code(s.metrics)],
    ['analysis options', code(file.variantDefinition.analysis)],
  ];
  return { columns: ['setting', 'value'], rows };
}

function blocksTable(blocks: readonly Block[]): ReportTable {
  const list = (xs: readonly unknown[] | undefined) => (xs === undefined ? 'default' : xs.join(', '));
  const rows = blocks.map((b) => [
    b.name,
    b.architectures.map((a) => `${a.label} (${a.zoo}${Object.keys(a.options).length ? ` ${code(a.options)}` : ''}; depths ${list(a.depths ?? b.depths)}; widths ${list(a.widths ?? b.widths)})`).join('; '),
    list(b.batchSizes),
    list(b.learningRates),
    b.policies.map((p) => p.label ?? p.name).join(', '),
    b.metrics ? b.metrics.map((m) => m.label).join(', ') : 'settings',
    list(b.seeds),
    b.settings ? code(b.settings) : '',
  ]);
  return { columns: ['block', 'architectures', 'batch sizes', 'learning rates', 'policies', 'metrics', 'seeds', 'overrides'], rows, caption: 'Each block runs the product of its axes; a run two blocks share runs once.' };
}

function timeSection(file: ExperimentFile): Section {
  const e = file.estimate;
  const m = file.machine;
  const measured = file.measuredSeconds === null ? 'not finished' : formatDuration(file.measuredSeconds);
  if (!e) return { title: 'Time', text: `Measured: ${measured} (no estimate was made).` };
  const rows = e.calibrations.map((c) => [
    c.example, num(c.stepMs, 1), Object.entries(c.groupMs).map(([g, ms]) => `${g} ${num(ms, 0)}`).join(', ') || '—',
    num(c.setupMs, 0), num(c.validationMs, 0), num(c.testMs, 0),
  ]);
  return {
    title: 'Time',
    text: `Expected here: **${formatDuration(e.seconds)}** for ${e.toRun} of ${e.runs} run(s) on ${e.jobs} worker(s) (${formatDuration(e.runSeconds)} of run time in all${e.analysisSeconds ? `, ${formatDuration(e.analysisSeconds)} of analysis` : ''}); measured: **${measured}**, with a load average of ${m.loadAtStart.toFixed(1)} at the start and ${m.loadAtEnd === null ? '—' : m.loadAtEnd.toFixed(1)} at the end on ${m.cores} cores (the estimate assumes the machine is free). Method: ${e.method}. Calibration took ${formatDuration(e.calibrationSeconds)}. The table of runs gives each run's expected seconds beside its measured wall time.`,
    table: { columns: ['configuration (example run)', 'step ms', 'per sample ms', 'setup ms', 'validation ms', 'test ms'], rows, caption: 'Medians of the calibration runs, measured here.' },
  };
}

function runsTable(file: ExperimentFile, dir: string, outcomes: ReadonlyMap<string, { steps: number; wallMs: number; finalLoss: number | null; testAccuracy: number | null }>): ReportTable {
  const rows = file.runs.map((r) => {
    const o = outcomes.get(r.id);
    return [
      r.id, r.blocks.join(', '), r.status, o ? int(o.steps) : '—', o ? (o.wallMs / 1000).toFixed(1) : '—', num(file.estimate?.perRun[r.id], 1), num(o?.finalLoss), pct(o?.testAccuracy), r.error ?? '',
      dirLink(path.join(dir, r.dir), dir, r.dir),
    ];
  });
  return {
    columns: ['run', 'blocks', 'status', 'steps', 'wall s', 'expected s', 'final loss', 'test acc', 'why', 'directory'], rows,
    caption: 'Wall s: the run\'s own clock (training, metrics, validation); expected s: the estimate, which also counts loading the data, building the model and the test pass (— for a run already finished when the estimate was made). Status: **done**; **diverged** (a non-finite loss, gradient or update stopped it); **dead** (over its last quarter the median loss stayed at or above the first step\'s); **failed** (an error in the run itself); **incomplete** (no end).',
  };
}

/** The report page: the frame around the analysis' sections. */
export function experimentReport(file: ExperimentFile, dir: string, body: readonly Section[], outcomes: ReadonlyMap<string, { steps: number; wallMs: number; finalLoss: number | null; testAccuracy: number | null }>): ReportDoc {
  const d = file.definition;
  const figures = d.figures.length ? `\n\nReproduces the thesis' ${d.figures.join(', ')}.` : '';
  const findings = file.findings.length ? file.findings.map((f) => `- ${f}`).join('\n') : 'The analysis reported no findings.';
  const finished = file.finishedAt ? `finished ${file.finishedAt.slice(0, 16).replace('T', ' ')}` : 'not finished';
  return {
    title: `${d.number !== undefined ? `Experiment ${d.number}: ` : ''}${d.title}`,
    subtitle: `${file.variant} variant · ${file.runs.length} run(s) · \`${dir}\` · ${finished}`,
    sections: [
      { title: 'Question', text: `${d.question}${figures}` },
      { title: 'Findings', text: findings },
      ...body,
      { title: 'Setup', table: settingsTable(file), sections: file.variantDefinition.blocks.length ? [{ title: 'Grid', table: blocksTable(file.variantDefinition.blocks) }] : [] },
      timeSection(file),
      ...(file.runs.length ? [{ title: 'Runs', table: runsTable(file, dir, outcomes) }] : []),
    ],
  };
}
