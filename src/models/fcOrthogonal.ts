/**
 * A fully connected network with orthogonal kernels (Saxe, McClelland & Ganguli, "Exact
 * solutions to the nonlinear dynamics of learning in deep linear neural networks", ICLR 2014):
 * one of the thesis' test architectures, with ReLU or CReLU activations.
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { denseBlock, flatInput, glorotUniform, outputLayer, seedCounter, setKernel } from './blocks.js';
import { ACTIVATIONS, type Activation, type ModelOptions } from './options.js';
import { orthogonalMatrix } from './orthogonal.js';

export const FC_ORTHOGONAL: ArchitectureInfo = {
  name: 'fc-orthogonal',
  description: 'fully connected: depth hidden layers of width units, orthogonal kernels (ReLU by default; CReLU without mirroring)',
  defaults: { depth: 4, width: 256, activation: 'relu' },
  activations: ACTIVATIONS,
  input: 'any',
};

/**
 * Gain √2 after ReLU and CReLU, which on average pass on half of a layer's signal energy to the
 * next kernel (He et al. 2015); 1 otherwise.
 */
export function orthogonalGain(activation: Activation): number {
  return activation === 'relu' || activation === 'crelu' ? Math.SQRT2 : 1;
}

/**
 * Every kernel (hidden and output) is orthogonal in the sense of `orthogonalMatrix`: a
 * `[in, out]` kernel has orthonormal columns when in ≥ out, orthonormal rows otherwise, times
 * the gain (1 for the output). Layer i's kernel is seeded `seed + i`. Biases start at zero.
 */
export function fcOrthogonal(spec: ModelOptions): tf.Sequential {
  const o = resolveOptions(FC_ORTHOGONAL, spec);
  const seeds = seedCounter(o.seed);
  const model = tf.sequential({ layers: [flatInput(o.inputShape)] });
  const kernels: { layer: tf.layers.Layer; seed: number; gain: number }[] = [];
  for (let i = 0; i < o.depth; i++) {
    const seed = seeds();
    const block = denseBlock(o.width, { activation: o.activation, batchNorm: o.batchNorm, kernelInitializer: glorotUniform(seed) });
    block.forEach((layer) => model.add(layer));
    kernels.push({ layer: block[0], seed, gain: orthogonalGain(o.activation) });
  }
  const seed = seeds();
  const output = outputLayer(o.classes, seed);
  model.add(output);
  kernels.push({ layer: output, seed, gain: 1 });
  for (const k of kernels) {
    const [rows, cols] = k.layer.weights[0].shape as [number, number];
    setKernel(k.layer, orthogonalMatrix(rows, cols, k.seed, k.gain));
  }
  return model;
}
