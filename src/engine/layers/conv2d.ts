/**
 * Conv2D (channels last, any strides, padding and dilation tfjs supports): z = conv(a, W) + c.
 * Per-example kernel gradients are one depthwise convolution with the batch as channels
 * (convGrads.ts), formed on first use.
 */
import { tf } from '../../backend/tf.js';
import { conv2dKernelGrads } from './convGrads.js';
import { kernelConvolutionRule } from './kernelConvolution.js';
import { dilationUnsupported } from './rule.js';

export const conv2dRule = kernelConvolutionRule({
  kind: 'conv2d',
  className: 'Conv2D',
  kernelField: 'kernel',
  dilated: true,
  noGradient: (layer, g) => dilationUnsupported(layer, g.dilations),
  forward: (a, kernel, g) => tf.conv2d(a, kernel, g.strides, g.padding, 'NHWC', g.dilations),
  kernelGrads: conv2dKernelGrads,
});
