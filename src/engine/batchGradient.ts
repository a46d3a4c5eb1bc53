/** The batch-averaged weight gradient h̄(θ, χ) = ∇θ mean_i ℓ_i, flat, from one backward pass. */
import { tf } from '../backend/tf.js';
import { batchLoss, type PerExampleLoss } from './losses.js';
import { trainableVariables } from './params.js';

export interface BatchGradient {
  loss: number;
  /** h̄ in `model.trainableWeights` order, unmasked. */
  grad: tf.Tensor1D;
}

export function batchGradient(model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, training = false): BatchGradient {
  const vars = trainableVariables(model);
  return tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(() => batchLoss(loss, y, model.apply(x, { training }) as tf.Tensor), vars);
    const grad = tf.concat(grads.map((g) => g.reshape([-1])), 0) as tf.Tensor1D;
    return { loss: value.dataSync()[0], grad };
  });
}
