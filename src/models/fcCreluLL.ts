/**
 * The looks-linear network: fully connected, CReLU activations, and mirrored orthogonal kernels,
 * so that at initialisation the whole network is exactly linear (then softmax), yet it can learn
 * non-linear functions as soon as training breaks the mirror symmetry.
 *
 * With CReLU(z) = [relu(z), relu(−z)] and the next kernel mirrored as [W; −W] (tfjs multiplies
 * row vectors, `y = x·K`), `CReLU(z)·[W; −W] = relu(z)·W − relu(−z)·W = z·W`: each layer passes
 * its pre-activation on through an orthogonal W, with no kink anywhere. After one update the two
 * halves of a kernel differ and the network is piecewise linear like any ReLU network.
 *
 * Balduzzi, Frean, Leary, Lewis, Ma & McWilliams, "The Shattered Gradients Problem: If resnets
 * are the answer, then what is the question?", ICML 2017 (section 5, looks-linear
 * initialisation); it trained 200-layer fully connected networks as well as ResNets.
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { denseBlock, flatInput, glorotUniform, outputLayer, seedCounter, setKernel } from './blocks.js';
import type { ModelOptions } from './options.js';
import { orthogonalMatrix } from './orthogonal.js';

export const FC_CRELU_LL: ArchitectureInfo = {
  name: 'fc-crelu-ll',
  description: 'looks-linear: depth dense layers of width units, each followed by CReLU (2·width features), mirrored orthogonal kernels, exactly linear at initialisation',
  defaults: { depth: 4, width: 128, activation: 'crelu' },
  activations: ['crelu'],
  input: 'any',
};

/** `[W; −W]` for a row-major `rows × cols` W: the rows of W, then the same rows negated. */
export function mirrored(w: Float64Array): Float64Array {
  const out = new Float64Array(2 * w.length);
  out.set(w);
  for (let i = 0; i < w.length; i++) out[w.length + i] = -w[i];
  return out;
}

/**
 * The first kernel `[d, width]` is orthogonal (its input is the data, not a CReLU output); every
 * later kernel, the output's included, is `[W; −W]` with W `[width, out]` orthogonal, gain 1.
 * Layer i's W is seeded `seed + i`. Biases start at zero. With `batchNorm`, batch normalisation
 * sits between each dense layer and its CReLU; in inference mode at initialisation it only scales
 * by 1/√(1 + ε), so the network stays linear there.
 */
export function fcCreluLL(spec: ModelOptions): tf.Sequential {
  const o = resolveOptions(FC_CRELU_LL, spec);
  const seeds = seedCounter(o.seed);
  const model = tf.sequential({ layers: [flatInput(o.inputShape)] });
  const dense: { layer: tf.layers.Layer; seed: number }[] = [];
  for (let i = 0; i < o.depth; i++) {
    const seed = seeds();
    const block = denseBlock(o.width, { activation: 'crelu', batchNorm: o.batchNorm, kernelInitializer: glorotUniform(seed) });
    block.forEach((layer) => model.add(layer));
    dense.push({ layer: block[0], seed });
  }
  const seed = seeds();
  const output = outputLayer(o.classes, seed);
  model.add(output);
  dense.push({ layer: output, seed });
  dense.forEach(({ layer, seed }, i) => {
    const [rows, cols] = layer.weights[0].shape as [number, number];
    setKernel(layer, i === 0 ? orthogonalMatrix(rows, cols, seed) : mirrored(orthogonalMatrix(rows / 2, cols, seed)));
  });
  return model;
}
