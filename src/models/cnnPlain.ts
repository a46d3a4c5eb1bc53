/**
 * A plain (non-residual) convolutional network: the thesis' "ConvNet" test architectures, whose
 * trainability falls off with depth where a ResNet's does not.
 */
import { tf } from '../backend/tf.js';
import { resolveOptions, type ArchitectureInfo } from './architecture.js';
import { convBlock, heNormal, outputLayer, seedCounter, stagePlan } from './blocks.js';
import { ACTIVATIONS, MAX_WIDTH, type ModelOptions } from './options.js';

export const CNN_PLAIN: ArchitectureInfo = {
  name: 'cnn-plain',
  description: 'plain CNN: depth 3×3 conv blocks in up to 3 stages (width, 2·width, 4·width filters; stride 2 between), global average pooling, dense',
  defaults: { depth: 4, width: 16, activation: 'relu' },
  activations: ACTIVATIONS,
  input: 'image',
  check: ({ depth, width }) => (width * 2 ** (Math.min(3, depth) - 1) > MAX_WIDTH ? `4·width must be at most ${MAX_WIDTH}` : null),
};

/**
 * Block i is a 3×3 'same' convolution with the filters and stride of `stagePlan`, He-normal
 * kernels seeded `seed + i`, then [batch norm], then the activation; the output dense is seeded
 * `seed + depth`. The stages and the global-average-pooling head are the ResNet's, so a plain
 * network and a ResNet of the same depth and width differ only in their skips.
 */
export function cnnPlain(spec: ModelOptions): tf.Sequential {
  const o = resolveOptions(CNN_PLAIN, spec);
  const seeds = seedCounter(o.seed);
  const model = tf.sequential();
  stagePlan(o.depth, o.width).forEach(({ filters, strides }, i) => {
    const block = convBlock(filters, {
      kernelSize: 3, strides, padding: 'same', activation: o.activation, batchNorm: o.batchNorm, kernelInitializer: heNormal(seeds()),
      ...(i === 0 ? { inputShape: o.inputShape } : {}),
    });
    block.forEach((layer) => model.add(layer));
  });
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(outputLayer(o.classes, seeds()));
  return model;
}
