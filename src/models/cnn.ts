/**
 * The benchmark's small CNN: conv 3×3×16 → conv 3×3×32 → flatten → dense, ReLU, Glorot-uniform,
 * 'valid' padding. The defaults build exactly the model the benchmark has always measured.
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { convBlock, glorotUniform, outputLayer } from './blocks.js';
import { ACTIVATIONS, MAX_WIDTH, type ModelOptions } from './options.js';

export const CNN: ArchitectureInfo = {
  name: 'cnn',
  description: 'benchmark CNN: depth 3×3 valid convs of width·2^i filters, flatten, dense (default conv 16 → conv 32 → dense)',
  defaults: { depth: 2, width: 16, activation: 'relu' },
  activations: ACTIVATIONS,
  input: 'image',
  check: ({ inputShape: [h, w], depth, width }) => {
    if (Math.min(h, w) - 2 * depth < 1) return `${depth} valid 3×3 convolutions need inputs of at least ${2 * depth + 1}×${2 * depth + 1}, got ${h}×${w}`;
    const last = width * 2 ** (depth - 1);
    return last > MAX_WIDTH ? `the last conv would have width·2^(depth−1) = ${last} filters, more than ${MAX_WIDTH}` : null;
  },
};

/** Conv i has width·2^i filters and seed `seed + 1 + i`; the output dense `seed + depth + 1`. */
export function cnn(spec: ModelOptions): tf.Sequential {
  const o = resolveOptions(CNN, spec);
  const model = tf.sequential();
  for (let i = 0; i < o.depth; i++) {
    const block = convBlock(o.width * 2 ** i, {
      kernelSize: 3, activation: o.activation, batchNorm: o.batchNorm, kernelInitializer: glorotUniform(o.seed + 1 + i),
      ...(i === 0 ? { inputShape: o.inputShape } : {}),
    });
    for (const layer of block) model.add(layer);
  }
  model.add(tf.layers.flatten());
  model.add(outputLayer(o.classes, o.seed + o.depth + 1));
  return model;
}
