/**
 * snip: `Σ |W ⊙ ∂L/∂W|` over the kernels of the Dense and convolution layers, with `L` the
 * batch-mean loss: the connection sensitivity of Lee, Ajanthan & Torr, "SNIP: Single-shot
 * Network Pruning based on Connection Sensitivity", ICLR 2019, summed over the network as in
 * Abdelfattah et al., ICLR 2021 (mohsaied/zero-cost-nas, `foresight/pruners/measures/snip.py`:
 * the gradient with respect to a multiplicative mask of ones on each `Conv2d`/`Linear` weight,
 * which is `W ⊙ ∂L/∂W`).
 */
import { tf } from '../../backend/tf.js';
import { readback } from '../../engine/hostMath.js';
import { ok, undef } from '../../metrics/result.js';
import { NO_KERNELS, kernelLossGradients, kernelVariables } from './kernels.js';
import { type Proxy, sum64 } from './proxy.js';
import { keepingModelState } from './state.js';

export const snip: Proxy = (input) => {
  if (kernelVariables(input.model).length === 0) return undef(NO_KERNELS);
  const perLayer = keepingModelState(input.model, input.training, () =>
    readback(() => {
      const { kernels, grads } = kernelLossGradients(input);
      return tf.stack(kernels.map((w, i) => w.mul(grads[i]!).abs().sum()));
    }),
  );
  return ok(sum64(perLayer), 'the saliency sum is not finite (the loss or its gradient overflowed)');
};
