/**
 * Reading and setting the learning rate of any tfjs optimizer at run time. The built-in
 * optimizers read their `learningRate` field inside every `applyGradients`, so setting it
 * changes the step itself (not the gradient, which for adaptive optimizers like Adam would
 * change nothing); SGD and momentum also cache `−lr` as a scalar, refreshed by their
 * `setLearningRate`.
 */
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { optionLabel, show } from '../validation.js';

interface HasLearningRate {
  learningRate?: number;
  setLearningRate?: (lr: number) => void;
}

export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as HasLearningRate).learningRate;
  if (typeof lr !== 'number') throw new TypeError(`${optimizer.getClassName()} has no numeric learningRate`);
  return lr;
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // The message train() and the CLI give for the same value.
  if (!(typeof lr === 'number' && lr > 0 && Number.isFinite(lr))) throw new UsageError(`${optionLabel('learningRate')} must be a positive finite number, got ${show(lr)}`);
  const o = optimizer as unknown as HasLearningRate;
  getLearningRate(optimizer); // throws for optimizers without one
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
