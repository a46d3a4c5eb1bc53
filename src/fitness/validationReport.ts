/** The validation's report sections and findings, from its numbers (validate.ts). */
import { type Correlation, excludesZero, formatCorrelation } from '../experiments/stats.js';
import type { Section } from '../report/doc.js';
import { THESIS_RANK_X_LIMIT } from './gate.js';
import type { FitnessRule } from './rule.js';
import type { MethodResult, TrainedCandidate, Validation } from './validate.js';

const num = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined ? '—' : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(digits);

const interval = (c: Correlation): string => (c.interval ? `[${c.interval.map((v) => v.toFixed(2)).join(', ')}]` : `— (${c.intervalReason ?? c.reason})`);

function methodRow(m: MethodResult): string[] {
  const nulls = m.values.filter((v) => v === null).length;
  return [m.method, m.correlation.rho === null ? '—' : m.correlation.rho.toFixed(2), interval(m.correlation), String(m.correlation.n), String(nulls)];
}

/** What the thesis led one to expect of each metric at initialisation. */
const EXPECTED: Record<string, string> = {
  rankX: 'above 0.15 at initialisation mostly failed to converge; among networks that converged, higher went with faster learning (section 4.2.1, figure 3.10)',
  confusion: 'lower went with faster descent and better final performance, in networks that converged at all (section 4.2.1, figure 3.13)',
  diversity: 'the same as confusion (section 4.2.1, figure 3.17)',
  rankW: 'no statement at initialisation',
  coherence: 'low values went with weaker performance in some networks (figure 3.20)',
  kappaW: 'excessively high values failed to converge (figure 2.6)',
};

function ruleTable(rule: FitnessRule): Section['table'] {
  return {
    columns: ['metric', 'direction', 'ρ on the fit set', 'reference values'],
    rows: rule.terms.map((t) => [t.metric, t.direction === 1 ? 'higher is better' : 'lower is better', t.rho === null ? '—' : t.rho.toFixed(2), `${t.reference.length} (${num(t.reference[0])} … ${num(t.reference.at(-1))})`]),
    caption: `Fitted on ${rule.fittedOn}. A candidate's score is the mean, over these metrics, of the fraction of the reference values it beats in the metric's direction (ties count half); a candidate dead at initialisation has 1 subtracted.`,
  };
}

function candidateTable(v: Validation, candidates: readonly TrainedCandidate[], status: readonly { id: string; status: string }[]): Section['table'] {
  const metricNames = [...new Set(candidates.flatMap((c) => Object.keys(c.metrics)))];
  const proxyNames = [...new Set(candidates.flatMap((c) => Object.keys(c.proxies)))];
  return {
    columns: ['candidate', 'status', 'accuracy', 'score (LOO)', ...metricNames, ...proxyNames],
    rows: candidates.map((c, i) => [
      c.id, status[i]?.status ?? '', num(c.accuracy), v.leaveOneOut[i]!.score === null ? `— (${v.leaveOneOut[i]!.reason})` : num(v.leaveOneOut[i]!.score),
      ...metricNames.map((m) => num(c.metrics[m as keyof typeof c.metrics]?.value)), ...proxyNames.map((p) => num(c.proxies[p]?.value)),
    ]),
    caption: 'Accuracy: the last validation accuracy of the run (a diverged run counts at chance, a failed one is left out). Metrics and proxies at initialisation; — where undefined.',
  };
}

export function validationSections(v: Validation, candidates: readonly TrainedCandidate[], status: readonly { id: string; status: string }[], o: { batchSize: number; batches: number; seed: number; resamples: number; minRho: number }): Section[] {
  const columns = ['method', 'ρ', '95% interval', 'n', 'no value'];
  const contest = v.methods.filter((m) => m.kind === 'fitness' || m.kind === 'proxy');
  const evidence = v.methods.filter((m) => m.kind === 'metric' || m.kind === 'gate');
  const protocol = `All candidates were measured at initialisation on the same ${o.batches} batches of ${o.batchSize} training examples (seed ${o.seed}); the proxies on the first of them. ρ is Spearman's rank correlation with the validation accuracy reached, with a 95% percentile bootstrap interval (${o.resamples} resamples of the candidates).`;
  return [
    {
      title: 'Fitness score and zero-cost proxies against accuracy reached',
      text: `${protocol} The fitness score of each candidate comes from the rule fitted on all the other candidates (leave-one-out, metrics entering at |ρ| ≥ ${o.minRho}), so its own accuracy played no part; the thesis rule reads no accuracy at all (lower confusion and lower diversity are better, dead networks last). Proxies are read as their papers read them: higher is better.`,
      table: { columns, rows: contest.map(methodRow), caption: '"no value": candidates the method gives no number for (left out of its ρ).' },
    },
    {
      title: 'The evidence: each metric alone',
      text: `Each gradcond metric at initialisation against the accuracy reached (the sign is the metric's own: negative means lower values went with higher accuracy), and the thesis' proposed gate as a 0/1 prediction (1: rankX ≤ ${THESIS_RANK_X_LIMIT}).`,
      table: { columns: [...columns, 'the thesis'], rows: evidence.map((m) => [...methodRow(m), EXPECTED[m.method] ?? 'rankX > 0.15 at initialisation: most failed to converge (section 4.2.1)']) },
    },
    {
      title: 'The rule fitted on all candidates',
      text: 'In-sample: not for comparison with the proxies (the leave-one-out score above is). This is the rule `fitness` uses by default.',
      table: ruleTable(v.rule),
      sections: [{
        title: 'How much the entry threshold matters',
        text: `The leave-one-out score's ρ when a metric enters the rule at other thresholds |ρ| ≥ t (the rule uses t = ${o.minRho}, chosen before this run).`,
        table: { columns: ['t', 'ρ', '95% interval', 'n'], rows: v.sensitivity.map((s) => [String(s.minRho), s.correlation.rho === null ? '—' : s.correlation.rho.toFixed(2), interval(s.correlation), String(s.correlation.n)]) },
      }],
    },
    { title: 'Candidates', table: candidateTable(v, candidates, status) },
  ];
}

export function validationFindings(v: Validation): string[] {
  const contest = v.methods.filter((m) => m.kind === 'fitness' || m.kind === 'proxy').filter((m) => m.correlation.rho !== null);
  const best = [...contest].sort((a, b) => b.correlation.rho! - a.correlation.rho!);
  const score = v.methods[0]!;
  const thesis = v.methods[1]!;
  const gate = v.methods.find((m) => m.kind === 'gate')!;
  const lines = [
    `Fitness score (leave-one-out) against accuracy reached: ${formatCorrelation(score.correlation)}${excludesZero(score.correlation) ? '' : ' (the interval includes 0)'}.`,
    `Ranking by ρ: ${best.map((m) => `${m.method} ${m.correlation.rho!.toFixed(2)}`).join(', ')}.`,
    `The thesis' rule without fitting (lower confusion and diversity are better): ${formatCorrelation(thesis.correlation)}.`,
    `The thesis' gate (rankX ≤ ${THESIS_RANK_X_LIMIT}): ${formatCorrelation(gate.correlation)}.`,
    `Rule fitted on all candidates: ${v.rule.terms.map((t) => `${t.metric} (${t.direction === 1 ? 'higher' : 'lower'} is better, ρ ${t.rho?.toFixed(2) ?? '—'})`).join(', ') || 'no metric'}.`,
  ];
  return lines;
}
