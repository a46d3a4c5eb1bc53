/** The small models and batches every metric is checked on against the float64 reference. */
import { tf } from '../src/backend/tf.js';
import type { ProbeBatch } from '../src/probe.js';
import { oneHot, seededTensor } from './helpers.js';
import type { LossName } from './reference/model.js';

export interface Case {
  name: string;
  build: () => tf.LayersModel;
  loss: LossName;
  inputShape: number[];
  b: number;
  eta: number;
  mask?: number;
}

const dense = (units: number, activation: string, extra: object = {}) => tf.layers.dense({ units, activation: activation as never, ...extra });
export const CASES: Case[] = [
  { name: 'linear model, MSE', loss: 'meanSquaredError', inputShape: [4], b: 6, eta: 1e-2,
    build: () => tf.sequential({ layers: [dense(3, 'linear', { inputShape: [4] })] }) },
  { name: 'one hidden tanh layer, softmax cross-entropy', loss: 'categoricalCrossentropy', inputShape: [5], b: 6, eta: 1e-2,
    build: () => tf.sequential({ layers: [dense(4, 'tanh', { inputShape: [5] }), dense(3, 'softmax')] }) },
  { name: 'one hidden sigmoid layer, sparse cross-entropy', loss: 'sparseCategoricalCrossentropy', inputShape: [5], b: 5, eta: 1e-2,
    build: () => tf.sequential({ layers: [dense(4, 'sigmoid', { inputShape: [5] }), dense(3, 'softmax')] }) },
  { name: 'relu MLP without biases, MSE, mask p = 0.5', loss: 'meanSquaredError', inputShape: [5], b: 6, eta: 1e-2, mask: 0.5,
    build: () => tf.sequential({ layers: [dense(6, 'relu', { inputShape: [5], useBias: false }), dense(2, 'linear', { useBias: false })] }) },
  { name: 'conv + flatten + softmax', loss: 'categoricalCrossentropy', inputShape: [6, 5, 2], b: 4, eta: 1e-2,
    build: () => tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 5, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }),
      tf.layers.flatten(), dense(3, 'softmax')] }) },
];

export function batchesFor(c: Case, outUnits: number): ProbeBatch[] {
  return [0, 1, 2].map((k) => {
    const x = seededTensor([c.b, ...c.inputShape], 100 + k);
    const y = c.loss === 'sparseCategoricalCrossentropy'
      ? tf.tensor1d(Array.from({ length: c.b }, (_, i) => (i + k) % outUnits))
      : c.loss === 'meanSquaredError' ? seededTensor([c.b, outUnits], 200 + k) : oneHot(c.b, outUnits, k);
    return { x, y };
  });
}

