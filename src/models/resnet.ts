/**
 * A residual network (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition",
 * CVPR 2016, the CIFAR variant): a 3×3 stem, then residual blocks of two 3×3 convolutions whose
 * sum with the block's input passes through the activation. The skip is the identity where the
 * block keeps its input's shape, and a strided 1×1 convolution (a projection) exactly where the
 * shape changes. Skips keep gradients from shattering with depth (Balduzzi et al. 2017).
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { activationLayer, convBlock, heNormal, outputLayer, seedCounter, stagePlan, type Stage } from './blocks.js';
import { MAX_WIDTH, type ModelOptions, type ResolvedOptions } from './options.js';

export const RESNET: ArchitectureInfo = {
  name: 'resnet',
  description: 'ResNet: 3×3 stem, depth residual blocks (two 3×3 convs, identity skip, 1×1 projection where the shape changes) in up to 3 stages of width, 2·width, 4·width filters',
  defaults: { depth: 4, width: 16, activation: 'relu' },
  // CReLU would double the channels after every sum, so no identity skip would fit.
  activations: ['relu', 'tanh', 'elu', 'selu', 'linear'],
  input: 'image',
  check: ({ depth, width }) => (width * 2 ** (Math.min(3, depth) - 1) > MAX_WIDTH ? `4·width must be at most ${MAX_WIDTH}` : null),
};

const apply = (layers: tf.layers.Layer[], x: tf.SymbolicTensor): tf.SymbolicTensor =>
  layers.reduce((h, layer) => layer.apply(h) as tf.SymbolicTensor, x);

const sameShape = (a: tf.SymbolicTensor, b: tf.SymbolicTensor) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** Block i: conv → [BN] → act → conv → [BN], plus the skip, then the activation. Layers are named `block{i}_…`. */
function residualBlock(x: tf.SymbolicTensor, { filters, strides }: Stage, i: number, o: ResolvedOptions, seeds: () => number): tf.SymbolicTensor {
  const conv = (name: string, kernelSize: number, s: number, activation: ResolvedOptions['activation'] | null) =>
    convBlock(filters, { name: `block${i}_${name}`, kernelSize, strides: s, padding: 'same', activation, batchNorm: o.batchNorm, kernelInitializer: heNormal(seeds()) });
  const h = apply(conv('conv1', 3, strides, o.activation), x);
  // The second conv's activation comes after the sum.
  const residual = apply(conv('conv2', 3, 1, null), h);
  const skip = sameShape(x, residual) ? x : apply(conv('projection', 1, strides, null), x);
  const sum = tf.layers.add({ name: `block${i}_add` }).apply([residual, skip]) as tf.SymbolicTensor;
  return activationLayer(o.activation).apply(sum) as tf.SymbolicTensor;
}

/**
 * Kernels are He-normal, seeded in build order from `seed` (stem, then each block's conv1, conv2
 * and projection); the output dense comes last. Global average pooling feeds the classifier.
 */
export function resnet(spec: ModelOptions): tf.LayersModel {
  const o = resolveOptions(RESNET, spec);
  const seeds = seedCounter(o.seed);
  const input = tf.input({ shape: o.inputShape });
  const stem = convBlock(o.width, { name: 'stem', kernelSize: 3, padding: 'same', activation: o.activation, batchNorm: o.batchNorm, kernelInitializer: heNormal(seeds()) });
  let h = apply(stem, input);
  stagePlan(o.depth, o.width).forEach((stage, i) => {
    h = residualBlock(h, stage, i, o, seeds);
  });
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  const output = outputLayer(o.classes, seeds()).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}
