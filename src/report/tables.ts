/** The report's tables, as display strings: run statuses, health findings, null metrics, a run's summary. */
import * as path from 'node:path';
import type { RunSummary } from '../trace/summary.js';
import type { ReportTable } from './doc.js';
import type { RunData } from './runData.js';

/** Most health findings listed; a run that spikes all along would otherwise fill the page. */
export const MAX_HEALTH_ROWS = 200;

export const num = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
export const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(100 * v).toFixed(1)}%`);
export const int = (v: number): string => v.toLocaleString('en-US');

/** A markdown link to a directory, relative to where the report lives. */
export function dirLink(dir: string, linkFrom: string, label: string): string {
  const rel = path.relative(linkFrom, dir) || '.';
  const href = rel.split(path.sep).map((p) => encodeURIComponent(p).replace(/\(/g, '%28').replace(/\)/g, '%29')).join('/');
  return `[${label.replace(/[[\]]/g, '')}](${href}/)`;
}

/** One listed run: present (its data) or missing (why, when known). */
export interface RunEntry {
  id: string;
  policy: string;
  seed: string;
  dir: string;
  data: RunData | null;
  /** Why the run has no data: no directory yet, failed before its first record, or unreadable. */
  missing?: string;
  /** The status shown for a run without data: 'failed' when it left a failure.json, else 'missing'. */
  missingStatus?: 'missing' | 'failed';
}

/** Per run: status, size, results, and a link to its directory. */
export function runsTable(runs: readonly RunEntry[], linkFrom: string): ReportTable {
  const columns = ['run', 'policy', 'seed', 'status', 'steps', 'examples', 'wall s', 'final val acc', 'test acc', 'why', 'directory'];
  const rows = runs.map((r) => {
    const o = r.data?.outcome;
    const link = dirLink(r.dir, linkFrom, path.relative(linkFrom, r.dir) || r.dir);
    if (!o) return [r.id, r.policy, r.seed, r.missingStatus ?? 'missing', '—', '—', '—', '—', '—', r.missing ?? 'no run directory yet', link];
    return [r.id, r.policy, r.seed, o.status, int(o.steps), int(o.examples), (o.wallMs / 1000).toFixed(1), pct(o.finalValAccuracy), pct(o.testAccuracy), o.reason ?? '', link];
  });
  return {
    columns, rows,
    caption: 'Status: **done**; **diverged** (a non-finite loss, gradient or update stopped it); **dead** (over the last quarter of its steps the median loss stayed at or above the first step\'s); **failed** (an error in the run itself); **incomplete** (no end: killed or still running); **missing** (no run directory yet). Links open each run directory (manifest.json, trace.jsonl, summary.json, run.log).',
  };
}

/** Every health finding of the runs, at most MAX_HEALTH_ROWS. */
export function healthTable(runs: readonly RunEntry[]): ReportTable | null {
  const all = runs.flatMap((r) => (r.data?.health ?? []).map((h) => [r.id, h.step === null ? '—' : String(h.step), h.epoch === null ? '—' : String(h.epoch), h.finding, h.message]));
  if (all.length === 0) return null;
  const rows = all.slice(0, MAX_HEALTH_ROWS);
  return {
    columns: ['run', 'step', 'epoch', 'finding', 'message'], rows,
    caption: all.length > rows.length ? `The first ${rows.length} of ${all.length} findings.` : undefined,
  };
}

/** Metrics that were null at some sample: where, how often, and the first reason given. */
export function nullsTable(runs: readonly RunEntry[]): ReportTable | null {
  const byMetric = new Map<string, { runs: string[]; nulls: number; total: number; reason: string }>();
  for (const r of runs) {
    for (const [metric, c] of r.data?.nulls ?? []) {
      const m = byMetric.get(metric) ?? { runs: [], nulls: 0, total: 0, reason: c.reason };
      m.runs.push(r.id);
      m.nulls += c.nulls;
      m.total += c.total;
      byMetric.set(metric, m);
    }
  }
  if (byMetric.size === 0) return null;
  const present = runs.filter((r) => r.data !== null).length;
  const rows = [...byMetric].map(([metric, m]) => [`\`${metric}\``, `${m.nulls} of ${m.total}`, m.runs.length === present && present > 1 ? `all ${present}` : m.runs.join(', '), m.reason]);
  return { columns: ['metric', 'null samples', 'runs', 'first reason given'], rows, caption: 'A metric that is undefined at a sample is recorded as null with a reason, and left out of its plot.' };
}

/** A run's summary as a two-column table. */
export function summaryTable(s: RunSummary): ReportTable {
  const fb = (f: { final: number | null; best: number | null }, show: (v: number | null) => string) => (f.final === null ? '—' : `${show(f.final)} (best ${show(f.best)})`);
  const rows: [string, string][] = [
    ['status', s.status],
    ['stopped because', s.stopReason ?? '—'],
    ['steps', int(s.steps)],
    ['epochs', int(s.epochs)],
    ['examples seen', int(s.examples)],
    ['wall time', `${(s.wallTimeMs / 1000).toFixed(1)} s`],
    ['training loss, final', fb(s.loss, (v) => num(v, 4))],
    ['training accuracy, final', fb(s.accuracy, pct)],
    ['validation loss, final', fb(s.valLoss, (v) => num(v, 4))],
    ['validation accuracy, final', fb(s.valAccuracy, pct)],
    ['time in metrics', `${(s.metricTimeMs / 1000).toFixed(2)} s${s.metricTimeFraction === null ? '' : ` (${pct(s.metricTimeFraction)} of wall time)`}`],
    ['metric groups', Object.entries(s.groups).map(([g, v]) => `${g} ×${v.samples}`).join(', ') || '—'],
    ['policy updates', int(s.policyUpdates)],
  ];
  return { columns: ['', ''], rows };
}
