/**
 * One ordinary training step (forward, backward, SGD update): the unit every benchmark row is
 * measured against.
 */
import { tf } from '../backend/tf.js';
import { batchLoss, type PerExampleLoss } from '../engine/losses.js';

export function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor): number {
  const value = optimizer.minimize(() => batchLoss(loss, y, model.apply(x, { training: true }) as tf.Tensor), true)!;
  const out = value.dataSync()[0];
  value.dispose();
  return out;
}
