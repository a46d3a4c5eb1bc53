/**
 * The rule of a convolution with one kernel and an optional bias, z = op(a, W) + c: Conv2D and
 * DepthwiseConv2D differ only in what is declared here (the kernel's field, the forward op, the
 * per-example kernel gradients, and why tfjs might be unable to differentiate the layer).
 */
import { tf } from '../../backend/tf.js';
import { materializedBlock } from './block.js';
import { type ConvGeometry, biasGrads, bindConvolution } from './convGrads.js';
import { type LayerRule, type Unsupported, activationOf, isUnsupported, sizeOf, unsupported, variableField } from './rule.js';

export interface KernelConvolution {
  kind: string;
  className: string;
  /** The layer's field holding the kernel ('kernel', 'depthwiseKernel'). */
  kernelField: string;
  /** Whether the layer applies its dilation rate in the forward pass. */
  dilated: boolean;
  /** Why tfjs cannot take gradients through this layer, if it cannot. */
  noGradient: (layer: tf.layers.Layer, g: ConvGeometry) => Unsupported | null;
  forward: (a: tf.Tensor4D, kernel: tf.Tensor4D, g: ConvGeometry) => tf.Tensor;
  /** The per-example kernel gradients, [b, kernel size]. */
  kernelGrads: (a: tf.Tensor4D, delta: tf.Tensor4D, g: ConvGeometry) => tf.Tensor2D;
}

export function kernelConvolutionRule(c: KernelConvolution): LayerRule {
  return {
    kind: c.kind,
    classNames: [c.className],
    bind({ layer, outputShape }) {
      const kernel = variableField(layer, c.kernelField);
      if (!kernel) return unsupported(`layer ${layer.name}: ${c.className} without a kernel`);
      const bound = bindConvolution(layer, outputShape, kernel, c.dilated);
      if (isUnsupported(bound)) return bound;
      const { bias, out, geometry } = bound;
      const noGradient = c.noGradient(layer, geometry);
      if (noGradient) return noGradient;
      const act = activationOf(layer);
      const size = sizeOf(kernel) + sizeOf(bias);
      return {
        variables: bias ? [kernel, bias] : [kernel],
        probeShapes: [out],
        forward(input, [probe]) {
          let z = c.forward(input as tf.Tensor4D, kernel.read() as tf.Tensor4D, geometry);
          if (bias) z = z.add(bias.read());
          return { output: act(z.add(probe!)), saved: [input] };
        },
        block([a], [delta]) {
          const [x, d] = [a as tf.Tensor4D, delta as tf.Tensor4D];
          return materializedBlock({
            kind: c.kind, layer: layer.name, b: x.shape[0], size, owned: [x, d],
            make: () => {
              const k = c.kernelGrads(x, d, geometry);
              return bias ? tf.concat([k, biasGrads(d)], 1) : k;
            },
          });
        },
      };
    },
  };
}
