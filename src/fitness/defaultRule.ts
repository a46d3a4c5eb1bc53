/**
 * The default fitness rule: the one the validation experiment (`gradcond experiment fitness`,
 * full variant) fitted on all its trained candidates. docs/fitness.md gives the protocol and the
 * out-of-sample (leave-one-out) correlations. Each reference lists the metric's values at
 * initialisation over the live candidates (6 significant digits), measured on 4 batches of 32
 * Fashion-MNIST training images; regenerate it from a new run's experiment.json (results.rule)
 * when the protocol changes.
 */
import type { FitnessRule } from './rule.js';

export const DEFAULT_RULE: FitnessRule = {
  fittedOn: "31 trained candidates of the validation experiment (full variant)",
  terms: [
    {
      metric: 'confusion',
      direction: -1,
      rho: -0.38559,
      reference: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0169058, 0.0588687, 0.131182, 0.155384, 0.307921, 0.375708, 0.413612, 0.457224, 0.493701, 0.633484, 0.760546],
    },
    {
      metric: 'diversity',
      direction: -1,
      rho: -0.305289,
      reference: [0.262791, 0.293933, 0.341903, 0.362712, 0.367463, 0.387167, 0.39967, 0.412162, 0.434894, 0.440459, 0.453352, 0.469158, 0.469357, 0.490943, 0.530279, 0.536687, 0.548089, 0.595428, 0.676159, 0.696936, 0.710704, 0.927801, 1.01387, 1.1497, 1.35251, 1.53924, 1.6662, 1.85061],
    },
    {
      metric: 'rankW',
      direction: 1,
      rho: 0.548918,
      reference: [0.0652, 0.0714738, 0.0740786, 0.077874, 0.0831622, 0.0905221, 0.101082, 0.10776, 0.112589, 0.123637, 0.128559, 0.130857, 0.136353, 0.137414, 0.141518, 0.149163, 0.16412, 0.180797, 0.181341, 0.183925, 0.188513, 0.189135, 0.193445, 0.199484, 0.2015, 0.219475, 0.228264, 0.284125],
    },
    {
      metric: 'kappaW',
      direction: -1,
      rho: -0.613319,
      reference: [39.4826, 41.0217, 44.2997, 69.2996, 173.574, 176.968, 221.283, 237.599, 239.946, 240.714, 253.962, 301.955, 355.307, 369.31, 427.111, 523.921, 536.946, 670.42, 718.682, 1522.72, 1860.24, 1956.59, 1986.04, 2150.94, 2861.52, 3972.94, 4279.43, 14497],
    },
  ],
};
