/**
 * Validation against the field, as numbers: over trained candidates, Spearman's ρ (with a
 * percentile bootstrap 95% interval) between reached accuracy and
 *
 * - the fitness score, each candidate scored by the rule fitted on all the *other* candidates
 *   (leave-one-out), so that no candidate's own accuracy shaped its score; and, for how much
 *   the fitting adds, the thesis' rule, which reads no accuracy at all;
 * - each zero-cost proxy, read as its literature reads it (higher = better);
 * - the parameter count;
 * - and, as the evidence behind the rule, each gradcond metric alone and the thesis' rankX gate.
 *
 * Pure functions of plain numbers: the experiment's analysis measures, this module judges.
 */
import { type Correlation, spearmanInterval } from '../experiments/stats.js';
import type { MetricValue } from '../metrics/result.js';
import { type FitPoint, RULE_POOL, fitRule, leaveOneOut, thesisRule } from './fit.js';
import { THESIS_RANK_X_LIMIT } from './gate.js';
import type { FitnessMetrics } from './metrics.js';
import { PROXY_NAMES } from './proxies/index.js';
import { type FitnessRule, type Scored, applyRule } from './rule.js';

/** One trained candidate, measured at initialisation. */
export interface TrainedCandidate {
  id: string;
  /** Validation accuracy reached with the fixed budget; null when the run has no outcome (left out). */
  accuracy: number | null;
  metrics: FitnessMetrics;
  proxies: Record<string, MetricValue>;
}

export type MethodKind = 'fitness' | 'proxy' | 'metric' | 'gate';

export interface MethodResult {
  method: string;
  kind: MethodKind;
  /** The method's value per candidate (in the candidates' order); null where undefined. */
  values: (number | null)[];
  /** Why a value is null, per candidate (empty string where defined). */
  reasons: string[];
  correlation: Correlation;
}

export interface Validation {
  methods: MethodResult[];
  /** Each candidate's leave-one-out score. */
  leaveOneOut: Scored[];
  /** The rule fitted on every candidate with an accuracy: what `fitness` uses by default once adopted. */
  rule: FitnessRule;
  /** The leave-one-out score's ρ at other thresholds for a metric to enter (how much the choice matters). */
  sensitivity: { minRho: number; correlation: Correlation }[];
}

/** The thresholds `sensitivity` tries. */
export const MIN_RHO_GRID = [0, 0.2, 0.3, 0.4, 0.5] as const;

export interface ValidateOptions {
  minRho?: number;
  resamples?: number;
  seed?: number;
}

function method(name: string, kind: MethodKind, values: MetricValue[], accuracies: (number | null)[], o: ValidateOptions): MethodResult {
  const used = values.flatMap((v, i) => (v.value !== null && accuracies[i] !== null ? [[v.value, accuracies[i]!] as const] : []));
  const correlation = spearmanInterval(used.map((u) => u[0]), used.map((u) => u[1]), { resamples: o.resamples ?? 4000, seed: o.seed ?? 0 });
  return { method: name, kind, values: values.map((v) => v.value), reasons: values.map((v) => (v.value === null ? v.reason : '')), correlation };
}

/** The thesis' gate as a 0/1 score: 1 (predicted to train) when rankX ≤ 0.15. */
function thesisGate(m: FitnessMetrics): MetricValue {
  const r = m.rankX;
  if (!r || r.value === null) return { value: null, reason: `rankX undefined${r ? `: ${r.reason}` : ''}` };
  return { value: r.value <= THESIS_RANK_X_LIMIT ? 1 : 0 };
}

/** See the module comment. Candidates without an accuracy take no part in fitting or correlating. */
export function validate(candidates: readonly TrainedCandidate[], o: ValidateOptions = {}): Validation {
  const acc = candidates.map((c) => c.accuracy);
  const trained = candidates.flatMap((c): FitPoint[] => (c.accuracy === null ? [] : [{ metrics: c.metrics, accuracy: c.accuracy }]));
  const fitOpts = o.minRho === undefined ? {} : { minRho: o.minRho };
  const looTrained = leaveOneOut(trained, fitOpts);
  let k = 0;
  const loo = candidates.map((c): Scored => (c.accuracy === null ? { score: null, reason: 'no reached accuracy', dead: false, terms: {} } : looTrained[k++]!));
  const asValue = (s: Scored): MetricValue => (s.score === null ? { value: null, reason: s.reason ?? 'no score' } : { value: s.score });
  const missing = (name: string): MetricValue => ({ value: null, reason: `${name} was not measured` });
  const thesis = thesisRule(candidates.map((c) => c.metrics), 'the candidates\' own metrics, no accuracies');
  const methods: MethodResult[] = [
    method('fitness score (leave-one-out)', 'fitness', loo.map(asValue), acc, o),
    method('thesis rule (no fitting)', 'fitness', candidates.map((c) => asValue(applyRule(thesis, c.metrics))), acc, o),
    ...PROXY_NAMES.map((p) => method(p, 'proxy', candidates.map((c) => c.proxies[p] ?? missing(p)), acc, o)),
    ...RULE_POOL.map((m) => method(m, 'metric', candidates.map((c) => c.metrics[m] ?? missing(m)), acc, o)),
    method(`thesis gate (rankX ≤ ${THESIS_RANK_X_LIMIT})`, 'gate', candidates.map((c) => thesisGate(c.metrics)), acc, o),
  ];
  const rule = fitRule(trained, { ...fitOpts, fittedOn: `${trained.length} trained candidates of the validation experiment` });
  const trainedAcc = trained.map((p) => p.accuracy);
  const sensitivity = MIN_RHO_GRID.map((minRho) => ({ minRho, correlation: method('', 'fitness', leaveOneOut(trained, { minRho }).map(asValue), trainedAcc, o).correlation }));
  return { methods, leaveOneOut: loo, rule, sensitivity };
}
