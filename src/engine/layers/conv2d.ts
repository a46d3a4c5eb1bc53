/**
 * Conv2D (channels last, any strides, padding and dilation tfjs supports): z = conv(a, W) + c.
 * Per-example kernel gradients are one depthwise convolution with the batch as channels
 * (convGrads.ts), formed on first use.
 */
import { tf } from '../../backend/tf.js';
import { materializedBlock } from './block.js';
import { biasGrads, bindConvolution, conv2dKernelGrads } from './convGrads.js';
import { type LayerRule, activationOf, dilationUnsupported, isUnsupported, sizeOf, unsupported, variableField } from './rule.js';

export const conv2dRule: LayerRule = {
  kind: 'conv2d',
  classNames: ['Conv2D'],
  bind({ layer, outputShape }) {
    const kernel = variableField(layer, 'kernel');
    if (!kernel) return unsupported(`layer ${layer.name}: Conv2D without a kernel`);
    const bound = bindConvolution(layer, outputShape, kernel);
    if (isUnsupported(bound)) return bound;
    const { bias, out, geometry } = bound;
    const noGradient = dilationUnsupported(layer, geometry.dilations);
    if (noGradient) return noGradient;
    const act = activationOf(layer);
    const size = sizeOf(kernel) + sizeOf(bias);
    return {
      variables: bias ? [kernel, bias] : [kernel],
      probeShapes: [out],
      forward(input, [probe]) {
        const { strides, padding, dilations } = geometry;
        let z: tf.Tensor = tf.conv2d(input as tf.Tensor4D, kernel.read() as tf.Tensor4D, strides, padding, 'NHWC', dilations);
        if (bias) z = z.add(bias.read());
        return { output: act(z.add(probe!)), saved: [input] };
      },
      block([a], [delta]) {
        const [x, d] = [a as tf.Tensor4D, delta as tf.Tensor4D];
        return materializedBlock({
          kind: 'conv2d', layer: layer.name, b: x.shape[0], size, owned: [x, d],
          make: () => {
            const k = conv2dKernelGrads(x, d, geometry);
            return bias ? tf.concat([k, biasGrads(d)], 1) : k;
          },
        });
      },
    };
  },
};
