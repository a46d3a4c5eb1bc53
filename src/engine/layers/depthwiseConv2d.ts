/**
 * DepthwiseConv2D (channels last): z = depthwise(a, W) + c with W [kh, kw, cin, M]. Per-example
 * kernel gradients are one depthwise convolution over the (example, channel) pairs
 * (convGrads.ts), formed on first use. tfjs-layers 4.x ignores the layer's dilation rate in its
 * forward pass ("TODO: add support for dilation"); so does this rule, to stay the same function.
 */
import { tf } from '../../backend/tf.js';
import { materializedBlock } from './block.js';
import { biasGrads, bindConvolution, depthwiseKernelGrads } from './convGrads.js';
import { type LayerRule, activationOf, isUnsupported, missingKernel, sizeOf, unsupported, variableField } from './rule.js';

export const depthwiseConv2dRule: LayerRule = {
  kind: 'depthwiseConv2d',
  classNames: ['DepthwiseConv2D'],
  bind({ layer, outputShape }) {
    const kernel = variableField(layer, 'depthwiseKernel');
    if (!kernel) return unsupported(`layer ${layer.name}: DepthwiseConv2D without a kernel`);
    const bound = bindConvolution(layer, outputShape, kernel, false);
    if (isUnsupported(bound)) return bound;
    const { bias, out, geometry } = bound;
    const noGradient = missingKernel(layer, 'DepthwiseConv2dNativeBackpropInput');
    if (noGradient) return noGradient;
    const act = activationOf(layer);
    const size = sizeOf(kernel) + sizeOf(bias);
    return {
      variables: bias ? [kernel, bias] : [kernel],
      probeShapes: [out],
      forward(input, [probe]) {
        let z: tf.Tensor = tf.depthwiseConv2d(input as tf.Tensor4D, kernel.read() as tf.Tensor4D, geometry.strides, geometry.padding, 'NHWC');
        if (bias) z = z.add(bias.read());
        return { output: act(z.add(probe!)), saved: [input] };
      },
      block([a], [delta]) {
        const [x, d] = [a as tf.Tensor4D, delta as tf.Tensor4D];
        return materializedBlock({
          kind: 'depthwiseConv2d', layer: layer.name, b: x.shape[0], size, owned: [x, d],
          make: () => {
            const k = depthwiseKernelGrads(x, d, geometry);
            return bias ? tf.concat([k, biasGrads(d)], 1) : k;
          },
        });
      },
    };
  },
};
