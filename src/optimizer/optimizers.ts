/**
 * The optimizers a run can name, each with the learning rate it starts from when none is given.
 * The defaults are Keras' (adam and rmsprop 1e-3, momentum 0.01 with β = 0.9), except plain sgd,
 * whose 0.01 barely moves the project's example tasks in a few epochs: 0.1 trains them.
 */
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { show } from '../validation.js';

export interface OptimizerEntry {
  create: (learningRate: number) => tf.Optimizer;
  defaultLearningRate: number;
}

export const OPTIMIZERS = {
  sgd: { create: (lr: number) => tf.train.sgd(lr), defaultLearningRate: 0.1 },
  momentum: { create: (lr: number) => tf.train.momentum(lr, 0.9), defaultLearningRate: 0.01 },
  adam: { create: (lr: number) => tf.train.adam(lr), defaultLearningRate: 1e-3 },
  rmsprop: { create: (lr: number) => tf.train.rmsprop(lr), defaultLearningRate: 1e-3 },
} as const satisfies Record<string, OptimizerEntry>;

export type OptimizerName = keyof typeof OPTIMIZERS;
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/** The learning rate `name` starts from; a UsageError (the trainer's message) for an unknown name. */
export function defaultLearningRate(name: unknown): number {
  if (typeof name !== 'string' || !Object.hasOwn(OPTIMIZERS, name)) throw new UsageError(`optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${show(name)}`);
  return OPTIMIZERS[name as OptimizerName].defaultLearningRate;
}
