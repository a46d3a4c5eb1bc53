/**
 * synflow: `Σ |θ ⊙ ∂R/∂θ|` over the kernels of the Dense and convolution layers, where
 * `R = Σ f(1)` is the summed logits of a copy of the network whose weights are all replaced by
 * their absolute values, on one input of all ones. Tanaka et al., "Pruning neural networks
 * without any data by iteratively conserving synaptic flow", NeurIPS 2020, summed over the
 * network as in Abdelfattah et al., ICLR 2021 (mohsaied/zero-cost-nas,
 * `foresight/pruners/measures/synflow.py`, the `synflow` variant registered with `bn=False`).
 *
 * As the reference: every weight (biases, frozen and normalisation weights too) is made
 * non-negative; BatchNormalization layers are skipped (identity); the output is the network's
 * logits (a softmax output always sums to 1, and its gradient would vanish); only the kernels
 * are scored. Deviations: the reference casts the network to float64 to avoid overflow; tfjs has
 * no float64, so this runs in float32 and answers null with the reason when `R` or the score
 * overflows (about 30 layers of gain 20 reach float32's 3.4e38); layers run in inference mode,
 * so a dropout layer does not randomise the score.
 *
 * For a network that is positively homogeneous of degree 1 in each layer's kernel (no biases,
 * ReLU/linear activations, pooling, skip-free), Euler's theorem gives `Σ W_l ∂R/∂W_l = R` per
 * layer, so synflow is `(number of layers) · R`; the tests use that.
 */
import { tf } from '../../backend/tf.js';
import { readback } from '../../engine/hostMath.js';
import { ok, undef } from '../../metrics/result.js';
import { combine, runGraph, skipBatchNorm } from './graph.js';
import { NO_KERNELS, kernelVariables } from './kernels.js';
import { withoutSoftmax } from './logits.js';
import { type Proxy, sum64 } from './proxy.js';
import { restoring } from './state.js';

const OVERFLOW = 'synflow overflows float32 (R or a layer sum is not finite; the reference computes in float64)';

export const synflow: Proxy = ({ model, x }) => {
  const kernels = kernelVariables(model);
  if (kernels.length === 0) return undef(NO_KERNELS);
  const replace = combine(skipBatchNorm, withoutSoftmax(model));
  const all = model.weights.map((w) => w.read() as tf.Variable);
  const [r, ...perLayer] = restoring(all, () => {
    all.forEach((v) => {
      const magnitude = v.abs();
      v.assign(magnitude); // the variable takes a reference; ours is still to dispose
      magnitude.dispose();
    });
    return readback(() => {
      const ones = tf.ones([1, ...x.shape.slice(1)]);
      const flow = () => runGraph(model, ones, { training: false, replace }).sum() as tf.Scalar;
      const { value, grads } = tf.engine().gradients(flow, kernels, undefined, true);
      return tf.stack([value, ...kernels.map((w, i) => (grads[i] ? w.mul(grads[i]!).abs().sum() : tf.scalar(0)))]);
    });
  });
  if (!Number.isFinite(r)) return undef(OVERFLOW);
  return ok(sum64(perLayer), OVERFLOW);
};
