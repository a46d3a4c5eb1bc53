/**
 * Fitting a rule to evidence: which metrics went with reached accuracy, in which direction, on a
 * set of candidates that were trained. Kept deliberately simple, because the sets are small
 * (tens of networks): a metric enters with the sign of its Spearman correlation with accuracy
 * among the live candidates when |ρ| reaches `minRho`, every term weighs the same, and there is
 * nothing else to tune. To report an honest correlation, fit on other candidates than those
 * scored: `leaveOneOut` scores each candidate with the rule fitted on all the others.
 */
import { spearman } from '../experiments/stats.js';
import { deadReason } from './gate.js';
import type { FitnessMetric, FitnessMetrics } from './metrics.js';
import { type FitnessRule, type RuleTerm, type Scored, applyRule, withReferences } from './rule.js';

/** A trained candidate: its metrics at initialisation and the accuracy it reached. */
export interface FitPoint {
  metrics: FitnessMetrics;
  accuracy: number;
}

/** The metrics a rule may use: cheap (a few training steps in all) and defined for any network. */
export const RULE_POOL: readonly FitnessMetric[] = ['rankX', 'confusion', 'diversity', 'rankW', 'coherence', 'kappaW'];

export interface FitOptions {
  pool?: readonly FitnessMetric[];
  /** Smallest |ρ| for a metric to enter (default 0.3). */
  minRho?: number;
  fittedOn: string;
}

/** Each pool metric's ρ with accuracy over the live points that have it (null: undefined). */
export function metricCorrelations(points: readonly FitPoint[], pool: readonly FitnessMetric[] = RULE_POOL): Record<string, { rho: number | null; n: number }> {
  const live = points.filter((p) => deadReason(p.metrics) === null);
  return Object.fromEntries(
    pool.map((metric) => {
      const pairs = live.flatMap((p) => (p.metrics[metric]?.value != null ? [[p.metrics[metric]!.value!, p.accuracy] as const] : []));
      const r = spearman(pairs.map((q) => q[0]), pairs.map((q) => q[1]));
      return [metric, { rho: r.rho, n: pairs.length }];
    }),
  );
}

/**
 * The rule the points support (see the module comment). When no metric reaches `minRho`, the
 * one with the largest |ρ| is used alone, so that the rule still ranks.
 */
export function fitRule(points: readonly FitPoint[], opts: FitOptions): FitnessRule {
  const pool = opts.pool ?? RULE_POOL;
  const minRho = opts.minRho ?? 0.3;
  const rhos = metricCorrelations(points, pool);
  const live = points.filter((p) => deadReason(p.metrics) === null);
  const term = (metric: FitnessMetric): RuleTerm => {
    const rho = rhos[metric]!.rho!;
    const reference = live.flatMap((p) => (p.metrics[metric]?.value != null ? [p.metrics[metric]!.value!] : [])).sort((a, b) => a - b);
    return { metric, direction: rho >= 0 ? 1 : -1, reference, rho };
  };
  const defined = pool.filter((m) => rhos[m]!.rho !== null);
  let chosen = defined.filter((m) => Math.abs(rhos[m]!.rho!) >= minRho);
  if (chosen.length === 0 && defined.length > 0) {
    chosen = [defined.reduce((a, b) => (Math.abs(rhos[b]!.rho!) > Math.abs(rhos[a]!.rho!) ? b : a))];
  }
  return { fittedOn: opts.fittedOn, terms: chosen.map(term) };
}

/**
 * The rule the thesis' statements give without any fitting (section 4.2.1: "a very strong
 * linear correlation between the best sustained rate of decrease in the loss with decreases in
 * both gradient confusion and gradient diversity in networks that converged at all"): lower
 * confusion and lower diversity are better, each term weighing the same. It reads no accuracy,
 * so its references may be the very candidates it scores (the live ones).
 */
export function thesisRule(metrics: readonly FitnessMetrics[], fittedOn: string): FitnessRule {
  const lower = (metric: FitnessMetric): RuleTerm => ({ metric, direction: -1, rho: null, reference: [] });
  return withReferences({ terms: [lower('confusion'), lower('diversity')] }, metrics, fittedOn);
}

/** Each point scored by the rule fitted on all the other points. */
export function leaveOneOut(points: readonly FitPoint[], opts: Omit<FitOptions, 'fittedOn'> = {}): Scored[] {
  return points.map((p, i) => {
    const rest = points.filter((_, j) => j !== i);
    return applyRule(fitRule(rest, { ...opts, fittedOn: `the other ${rest.length} candidates` }), p.metrics);
  });
}
