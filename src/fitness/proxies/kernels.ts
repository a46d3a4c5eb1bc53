/**
 * The weights the reference code scores: PyTorch's `Conv2d.weight` and `Linear.weight`, i.e. the
 * kernels of tfjs' Dense and convolution layers (variables whose name ends in `kernel`, which
 * also covers depthwise and pointwise kernels). Biases and normalisation parameters are left out.
 */
import { tf } from '../../backend/tf.js';
import { batchLoss } from '../../engine/losses.js';
import type { ProxyInput } from './proxy.js';

export function kernelVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.filter((w) => w.originalName.endsWith('kernel')).map((w) => w.read() as tf.Variable);
}

export const NO_KERNELS = 'the model has no trainable Dense or convolution kernel';

/**
 * The kernels and `∂L/∂W` for each, with `L = mean_i ℓ_i` on the batch (the reference's
 * `cross_entropy` also averages over the batch). Call inside `tf.tidy`.
 */
export function kernelLossGradients({ model, x, y, loss, training }: ProxyInput): { kernels: tf.Variable[]; grads: tf.Tensor[] } {
  const kernels = kernelVariables(model);
  const { grads } = tf.engine().gradients(() => batchLoss(loss, y, model.apply(x, { training }) as tf.Tensor), kernels, undefined, true);
  // A kernel off every path to the loss has no gradient: it is zero.
  return { kernels, grads: kernels.map((k, i) => grads[i] ?? tf.zerosLike(k)) };
}
