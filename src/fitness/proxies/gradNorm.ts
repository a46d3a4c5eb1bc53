/**
 * grad_norm: `Σ_l ‖∂L/∂W_l‖₂` over the kernels `W_l` of the Dense and convolution layers, with
 * `L` the batch-mean loss. Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR
 * 2021 (reference code: mohsaied/zero-cost-nas, `foresight/pruners/measures/grad_norm.py`, which
 * takes the Euclidean norm of each `Conv2d`/`Linear` weight gradient and sums the layers; biases
 * and BatchNorm parameters do not enter).
 */
import { tf } from '../../backend/tf.js';
import { readback } from '../../engine/hostMath.js';
import { ok, undef } from '../../metrics/result.js';
import { NO_KERNELS, kernelLossGradients, kernelVariables } from './kernels.js';
import { type Proxy, sum64 } from './proxy.js';
import { keepingModelState } from './state.js';

export const gradNorm: Proxy = (input) => {
  if (kernelVariables(input.model).length === 0) return undef(NO_KERNELS);
  const perLayer = keepingModelState(input.model, input.training, () =>
    readback(() => tf.stack(kernelLossGradients(input).grads.map(safeNorm))),
  );
  return ok(sum64(perLayer), 'the gradient norm is not finite (the loss or its gradient overflowed)');
};

/**
 * `‖g‖₂` as `m · ‖g / m‖₂` with `m = max |g|`: vanishing gradients (what this proxy is meant to
 * detect) would otherwise square to zero in float32.
 */
function safeNorm(g: tf.Tensor): tf.Scalar {
  const m = g.abs().max();
  return tf.divNoNan(g, m).norm().mul(m) as tf.Scalar;
}
