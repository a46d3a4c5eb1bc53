/**
 * Ranking candidates: every candidate scored on the same batches, sorted by score (higher first,
 * null scores last, in the order given), and the ranked table the command line prints.
 *
 * Ranked together, candidates are by default scored against each other: the rule's terms (which
 * metrics, which direction) with each metric ranked among the live candidates themselves — the
 * rank average of the metrics over the set. That needs no stored reference and adapts to any
 * data set, batch size or family of networks; `against: 'reference'` scores each against the
 * rule's stored reference instead, as `fitness` does for one model.
 */
import type { Dataset } from '../data/dataset.js';
import type { MetricValue } from '../metrics/result.js';
import { disposeBatches } from './batches.js';
import type { Candidate } from './candidates.js';
import { DEFAULT_RULE } from './defaultRule.js';
import { type FitnessOptions, type FitnessResult, scoreCandidate, scoringBatches } from './fitness.js';
import type { FitnessMetrics } from './metrics.js';
import { applyRule, withReferences } from './rule.js';

export const AGAINST = ['candidates', 'reference'] as const;
export type Against = (typeof AGAINST)[number];

export interface RankOptions extends FitnessOptions {
  /** What each metric is ranked against (see the module comment); default 'candidates'. */
  against?: Against;
}

export interface FitnessRecord extends FitnessResult {
  /** The candidate's label (zoo spec or path). */
  model: string;
  /** 1 = best; equal scores share a rank (1, 2, 2, 4); null when the score is null. */
  rank: number | null;
}

/** Ranks records in place order: by score, descending; nulls last in their given order. */
export function rankRecords(records: readonly Omit<FitnessRecord, 'rank'>[]): FitnessRecord[] {
  const scored = records.filter((r) => r.score !== null).sort((a, b) => b.score! - a.score!);
  const ranked = scored.map((r, _i, all) => ({ ...r, rank: all.findIndex((o) => o.score === r.score) + 1 }));
  return [...ranked, ...records.filter((r) => r.score === null).map((r) => ({ ...r, rank: null }))];
}

/** A record's metrics as metric values again. */
function valuesOf(r: FitnessResult): FitnessMetrics {
  return Object.fromEntries(Object.entries(r.metrics).map(([k, v]): [string, MetricValue] => [k, v === null ? { value: null, reason: r.reasons[k] ?? 'undefined' } : { value: v }]));
}

/** The records rescored with each metric ranked among the measured candidates themselves. */
function againstCandidates(records: Omit<FitnessRecord, 'rank'>[], opts: FitnessOptions): Omit<FitnessRecord, 'rank'>[] {
  const measured = records.filter((r) => Object.keys(r.metrics).length > 0);
  const rule = withReferences(opts.rule ?? DEFAULT_RULE, measured.map(valuesOf), `the ${measured.length} candidates scored together`);
  return records.map((r) => {
    if (!measured.includes(r)) return r;
    const s = applyRule(rule, valuesOf(r));
    return { ...r, score: s.score, reason: s.reason, dead: s.dead };
  });
}

/** Scores every candidate on the same batches and ranks them; `onScored` hears each as it is measured. */
export async function rankFitness(
  candidates: readonly Candidate[], data: Dataset, opts: RankOptions = {}, onScored?: (r: Omit<FitnessRecord, 'rank'>, done: number) => void,
): Promise<FitnessRecord[]> {
  const batches = scoringBatches(data, opts);
  const records: Omit<FitnessRecord, 'rank'>[] = [];
  try {
    for (const c of candidates) {
      const record = { model: c.label, ...(await scoreCandidate(c.source, data, batches, opts)) };
      records.push(record);
      onScored?.(record, records.length);
    }
  } finally {
    disposeBatches(batches);
  }
  const rescore = (opts.against ?? 'candidates') === 'candidates' && opts.proxy === undefined;
  return rankRecords(rescore ? againstCandidates(records, opts) : records);
}

const show = (v: number | null): string => (v === null ? 'null' : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(4));

/** The ranked table as text lines: rank, score, model, each metric, and why a score is null or gated. */
export function formatTable(records: readonly FitnessRecord[]): string[] {
  const metricNames = [...new Set(records.flatMap((r) => Object.keys(r.metrics)))];
  const header = ['rank', 'score', 'model', ...metricNames, 'note'];
  const rows = records.map((r) => [
    r.rank === null ? '-' : String(r.rank), show(r.score), r.model, ...metricNames.map((m) => (m in r.metrics ? show(r.metrics[m]!) : '')), r.reason ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
