/**
 * The benchmark's MLP: 784-256-256-10 with ReLU and Glorot-uniform kernels by default. The
 * defaults build exactly the model the benchmark has always measured (same seeds, same weights).
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { denseBlock, flatInput, glorotUniform, outputLayer } from './blocks.js';
import { ACTIVATIONS, type ModelOptions } from './options.js';

export const MLP: ArchitectureInfo = {
  name: 'mlp',
  description: 'benchmark MLP: depth dense layers of width units, Glorot-uniform (default 784-256-256-10, ReLU)',
  defaults: { depth: 2, width: 256, activation: 'relu' },
  activations: ACTIVATIONS,
  input: 'any',
};

/**
 * Hidden layer i is seeded `seed + i` and the output `seed + 99` (as the benchmark always has;
 * `seed + depth` past 99 hidden layers, so no two layers share a seed). `hidden` lists the
 * hidden widths explicitly, overriding depth and width.
 */
export function mlp(spec: ModelOptions, hidden?: number[]): tf.Sequential {
  const o = resolveOptions(MLP, spec);
  const units = hidden ?? Array.from({ length: o.depth }, () => o.width);
  const model = tf.sequential({ layers: [flatInput(o.inputShape)] });
  units.forEach((u, i) => {
    for (const layer of denseBlock(u, { activation: o.activation, batchNorm: o.batchNorm, kernelInitializer: glorotUniform(o.seed + i) })) model.add(layer);
  });
  model.add(outputLayer(o.classes, o.seed + Math.max(99, units.length)));
  return model;
}
