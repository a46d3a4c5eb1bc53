/**
 * Architecture search by gradient conditioning: `fitness` scores one architecture at
 * initialisation, `rankFitness` ranks many on the same batches, and the zero-cost proxies of the
 * NAS literature (proxies/) score the same candidates for comparison. docs/fitness.md says how
 * the score was derived and how well it ranks.
 */
export { fitness, scoreCandidate, scoringBatches, type FitnessOptions, type FitnessResult, type ModelSource } from './fitness.js';
export { rankFitness, rankRecords, formatTable, type FitnessRecord } from './rank.js';
export { candidateOf, parseZooSpec, readCandidateFile, refLabel, type Candidate } from './candidates.js';
export { DEFAULT_RULE } from './defaultRule.js';
export { applyRule, midRankCdf, type FitnessRule, type RuleTerm, type Scored } from './rule.js';
export { fitRule, leaveOneOut, RULE_POOL, type FitPoint } from './fit.js';
export { FITNESS_METRICS, measureFitnessMetrics, type FitnessMetric, type FitnessMetrics } from './metrics.js';
export { fitnessCost, type FitnessCost } from './bench.js';
export { computeProxy, computeProxies, PROXY_NAMES, type ProxyName } from './proxies/index.js';
