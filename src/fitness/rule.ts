/**
 * A fitness rule: how a candidate's metrics become one score (higher = better candidate).
 *
 * Each term is one metric with the direction in which it went with higher reached accuracy, and
 * the metric's values on a set of reference architectures. A candidate's term is the fraction of
 * the reference it beats in that direction (ties count half: the mid-rank empirical CDF), so
 * every term lies in [0, 1] whatever the metric's scale, and the score — the mean of the terms —
 * is a rank average against the reference, one number per candidate that does not depend on
 * which other candidates are scored with it. A candidate that fails the gate (dead at
 * initialisation) has 1 subtracted, so it ranks below every live one.
 */
import { type MetricValue } from '../metrics/result.js';
import { GATE_METRICS, deadReason } from './gate.js';
import type { FitnessMetric, FitnessMetrics } from './metrics.js';

export interface RuleTerm {
  metric: FitnessMetric;
  /** +1: higher values went with higher accuracy; −1: lower values did. */
  direction: 1 | -1;
  /** The metric on the reference architectures, sorted ascending (finite numbers). */
  reference: number[];
  /** Spearman's ρ of the metric with reached accuracy on the fit set (why the term is here); null for a rule not fitted to accuracies. */
  rho: number | null;
}

export interface FitnessRule {
  /** What the terms were fitted on, in words. */
  fittedOn: string;
  terms: RuleTerm[];
}

export interface Scored {
  score: number | null;
  /** Why the score is null, or why the candidate failed the gate. */
  reason: string | null;
  /** Failed the gate (dead at initialisation). */
  dead: boolean;
  /** Each term's value in [0, 1], by metric. */
  terms: Partial<Record<FitnessMetric, number>>;
}

/** The fraction of `sorted` below `v`, ties counted half. */
export function midRankCdf(sorted: readonly number[], v: number): number {
  let below = 0;
  let equal = 0;
  for (const r of sorted) {
    if (r < v) below++;
    else if (r === v) equal++;
  }
  return (below + equal / 2) / sorted.length;
}

/**
 * The same terms (metrics and directions) with every reference replaced by the values of the
 * live candidates in `metrics`: a rank average over those candidates themselves, which needs no
 * stored reference and adapts to any data. Reads no accuracy.
 */
export function withReferences(rule: Pick<FitnessRule, 'terms'>, metrics: readonly FitnessMetrics[], fittedOn: string): FitnessRule {
  const live = metrics.filter((m) => deadReason(m) === null);
  return {
    fittedOn,
    terms: rule.terms.map((t) => ({ ...t, reference: live.flatMap((m) => (m[t.metric]?.value != null ? [m[t.metric]!.value!] : [])).sort((a, b) => a - b) })),
  };
}

/** The metrics a score needs: the gate's, then the rule's terms'. */
export function ruleMetrics(rule: FitnessRule): FitnessMetric[] {
  return [...new Set([...GATE_METRICS, ...rule.terms.map((t) => t.metric)])];
}

/**
 * Scores one candidate. A live candidate with a term's metric undefined gets a null score with
 * that metric's reason (never a guess); a dead one is scored on the terms it has.
 */
export function applyRule(rule: FitnessRule, metrics: FitnessMetrics): Scored {
  const dead = deadReason(metrics);
  const terms: Partial<Record<FitnessMetric, number>> = {};
  for (const t of rule.terms) {
    const m: MetricValue | undefined = metrics[t.metric];
    if (!m) return { score: null, reason: `${t.metric} was not measured`, dead: dead !== null, terms };
    if (m.value === null) {
      if (dead) continue;
      return { score: null, reason: `${t.metric} is undefined: ${m.reason}`, dead: false, terms };
    }
    const cdf = midRankCdf(t.reference, m.value);
    terms[t.metric] = t.direction === 1 ? cdf : 1 - cdf;
  }
  const values = Object.values(terms);
  const base = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  return { score: dead ? base - 1 : base, reason: dead, dead: dead !== null, terms };
}
