/**
 * jacov: how differently the network responds to the examples of a batch. Mellor et al.,
 * "Neural Architecture Search without Training", arXiv:2006.04647v1 (2020), section 3; the
 * reference code is mohsaied/zero-cost-nas, `foresight/pruners/measures/jacob_cov.py`.
 *
 * `J_i = ∂(Σ_c f_c(x_i))/∂x_i` is example i's input gradient of its summed logits (taken as
 * the gradient of the summed logits of the whole batch with respect to the batch, as the
 * reference does, so training-mode BatchNormalization couples the examples there too). With
 * `Σ_J` the `b × b` correlation matrix of the flattened `J_i` (numpy.corrcoef) and `σ_j` its
 * eigenvalues, the score is `−Σ_j [log(σ_j + k) + 1/(σ_j + k)]`, `k = 1e-5`: highest when
 * the Jacobians are uncorrelated (all `σ_j = 1`).
 *
 * Computed without an eigendecomposition: `Σ log(σ_j + k) = log det(Σ_J + kI)` and
 * `Σ 1/(σ_j + k) = tr((Σ_J + kI)⁻¹)`, both from one float64 Cholesky factor (`Σ_J + kI` is
 * positive definite). The logits are the output without its softmax, as the reference's
 * networks end in a linear layer.
 */
import { tf } from '../../backend/tf.js';
import { readback } from '../../engine/hostMath.js';
import { type MetricValue, ok, undef } from '../../metrics/result.js';
import { runGraph } from './graph.js';
import { logDetAndTraceInverse, rowCorrelation } from './linalg.js';
import { withoutSoftmax } from './logits.js';
import type { Proxy } from './proxy.js';
import { keepingModelState } from './state.js';

export const JACOV_K = 1e-5;

export const jacov: Proxy = ({ model, x, training }) => {
  const b = x.shape[0]!;
  const d = x.size / b;
  if (b < 2) return undef('jacov needs at least 2 examples: the correlation of one Jacobian with itself is always 1');
  const replace = withoutSoftmax(model);
  const jacobians = keepingModelState(model, training, () =>
    readback(() => tf.grad((input: tf.Tensor) => runGraph(model, input, { training, replace }).sum())(x)),
  );
  return jacovScore(jacobians, b, d);
};

/** The score of `b` flattened input Jacobians of length `d` (row-major). */
export function jacovScore(jacobians: ArrayLike<number>, b: number, d: number): MetricValue {
  for (let i = 0; i < jacobians.length; i++) {
    if (!Number.isFinite(jacobians[i]!)) return undef('the input Jacobian is not finite (the forward or backward pass overflowed)');
  }
  const corr = rowCorrelation(jacobians, b, d);
  if ('constantRow' in corr) {
    return undef(`example ${corr.constantRow}'s input Jacobian is constant (e.g. all zero): its correlations are undefined`);
  }
  for (let i = 0; i < b; i++) corr.matrix[i * b + i]! += JACOV_K;
  const parts = logDetAndTraceInverse(corr.matrix, b);
  if (!parts) return undef('the Jacobian correlation matrix plus kI is not positive definite in float64');
  return ok(-(parts.logDet + parts.traceInverse));
}
