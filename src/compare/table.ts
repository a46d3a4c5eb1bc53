/**
 * The comparison table: per policy, medians and spreads over seeds, time to a target, failures,
 * and each policy against the baseline, paired by seed (stats.ts). Numbers go to compare.json;
 * `formatTable` renders the same rows as text.
 */
import { firstReaching, type RunOutcome } from './outcome.js';
import { type PairedComparison, type Spread, pairedComparison, smallestPValue, spread } from './stats.js';

export interface RunEntry {
  policy: string;
  seed: number;
  outcome: RunOutcome;
}

export interface PolicyResult {
  policy: string;
  runs: number;
  /** Runs that diverged, died (never went below their first loss) or failed. */
  failed: number;
  finalLoss: Spread | null;
  valAccuracy: Spread | null;
  testAccuracy: Spread | null;
  /** Over the runs that reached the target. */
  examplesToTarget: Spread | null;
  secondsToTarget: Spread | null;
  reachedTarget: number;
  /** Against the baseline, paired by seed (null for the baseline itself). */
  vsBaseline: { testAccuracy: PairedComparison | null; examplesToTarget: PairedComparison | null } | null;
}

export interface ComparisonTable {
  baseline: string;
  /** The validation accuracy a run must reach, and how it was set. */
  target: { valAccuracy: number | null; rule: string };
  results: PolicyResult[];
  test: string;
  notes: string[];
}

const finite = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null && Number.isFinite(x));
const spreadOf = (xs: (number | null)[]): Spread | null => (finite(xs).length ? spread(finite(xs)) : null);

/** The target: `fraction` of the best validation accuracy any run reached. */
export function targetOf(entries: RunEntry[], fraction: number): number | null {
  const best = finite(entries.map((e) => e.outcome.bestValAccuracy));
  return best.length ? fraction * Math.max(...best) : null;
}

function bySeed(entries: RunEntry[], value: (o: RunOutcome) => number | null): Map<number, number> {
  return new Map(entries.flatMap((e) => {
    const v = value(e.outcome);
    return v === null ? [] : [[e.seed, v] as [number, number]];
  }));
}

export function buildTable(entries: RunEntry[], opts: { baseline: string; targetFraction: number; alpha?: number }): ComparisonTable {
  const policies = [...new Set(entries.map((e) => e.policy))];
  const target = targetOf(entries, opts.targetFraction);
  const reach = (o: RunOutcome) => (target === null ? null : firstReaching(o, target));
  const base = entries.filter((e) => e.policy === opts.baseline);
  const results = policies.map((policy): PolicyResult => {
    const mine = entries.filter((e) => e.policy === policy);
    const reached = mine.map((e) => reach(e.outcome)).filter((p) => p !== null);
    const compare = (value: (o: RunOutcome) => number | null) => pairedComparison(bySeed(mine, value), bySeed(base, value), opts.alpha);
    return {
      policy,
      runs: mine.length,
      failed: mine.filter((e) => e.outcome.status !== 'done').length,
      finalLoss: spreadOf(mine.map((e) => e.outcome.finalLoss)),
      valAccuracy: spreadOf(mine.map((e) => e.outcome.finalValAccuracy)),
      testAccuracy: spreadOf(mine.map((e) => e.outcome.testAccuracy)),
      examplesToTarget: spreadOf(reached.map((p) => p!.examples)),
      secondsToTarget: spreadOf(reached.map((p) => p!.wallMs / 1000)),
      reachedTarget: reached.length,
      vsBaseline:
        policy === opts.baseline || base.length === 0
          ? null
          : { testAccuracy: compare((o) => o.testAccuracy), examplesToTarget: compare((o) => reach(o)?.examples ?? null) },
    };
  });
  const seeds = new Set(entries.map((e) => e.seed)).size;
  const notes = [
    `${seeds} seed(s): every policy starts from the same initial weights and sees the same data order for a given seed.`,
    `Significance: exact paired sign-flip permutation test against '${opts.baseline}', two-sided, α = ${opts.alpha ?? 0.05}; with ${seeds} seed(s) the smallest possible p is ${smallestPValue(seeds).toFixed(3)}${smallestPValue(seeds) >= (opts.alpha ?? 0.05) ? ', so no difference can be significant: run more seeds' : ''}.`,
    'Time to target counts only the runs that reached it. Failed runs (diverged; dead: the loss ended at or above where it started; or failed) are counted under "failed"; their finite numbers stay in the medians.',
  ];
  return {
    baseline: opts.baseline,
    target: { valAccuracy: target, rule: `${Math.round(opts.targetFraction * 100)}% of the best validation accuracy any run reached` },
    results,
    test: 'exact paired sign-flip permutation test of the mean difference; effect = median paired difference with a 95% percentile bootstrap interval',
    notes,
  };
}

const fmt = (s: Spread | null, digits: number, scale = 1) =>
  s === null ? '—' : `${(s.median * scale).toFixed(digits)} [${(s.min * scale).toFixed(digits)}–${(s.max * scale).toFixed(digits)}]`;

function versus(c: PairedComparison | null | undefined, digits: number, scale = 1): string {
  if (!c) return '—';
  const sign = c.medianDiff >= 0 ? '+' : '';
  return `${sign}${(c.medianDiff * scale).toFixed(digits)} (p=${c.pValue.toFixed(2)})${c.significant ? ' *' : ''}`;
}

/** Header and rows as display strings (compare.json keeps them beside the numbers). */
export function tableRows(t: ComparisonTable): { columns: string[]; rows: string[][] } {
  const columns = ['policy', 'runs', 'failed', 'train loss', 'val acc %', 'test acc %', `Δ test acc vs ${t.baseline}`, 'reached', 'examples to target', 's to target', `Δ examples vs ${t.baseline}`];
  const rows = t.results.map((r) => [
    r.policy, String(r.runs), String(r.failed), fmt(r.finalLoss, 3), fmt(r.valAccuracy, 1, 100), fmt(r.testAccuracy, 1, 100),
    versus(r.vsBaseline?.testAccuracy, 1, 100), `${r.reachedTarget}/${r.runs}`, fmt(r.examplesToTarget, 0), fmt(r.secondsToTarget, 1),
    versus(r.vsBaseline?.examplesToTarget, 0),
  ]);
  return { columns, rows };
}

/** The table as aligned text, with its target and notes. */
export function formatTable(t: ComparisonTable): string {
  const { columns, rows } = tableRows(t);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const target = t.target.valAccuracy === null ? 'none (no validation)' : `${(100 * t.target.valAccuracy).toFixed(1)}% (${t.target.rule})`;
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `target validation accuracy: ${target}`, 'medians [min–max] over seeds; * = significant', ...t.notes].join('\n');
}
