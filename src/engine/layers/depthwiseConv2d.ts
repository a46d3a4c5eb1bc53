/**
 * DepthwiseConv2D (channels last): z = depthwise(a, W) + c with W [kh, kw, cin, M]. Per-example
 * kernel gradients are one depthwise convolution over the (example, channel) pairs
 * (convGrads.ts), formed on first use. tfjs-layers 4.x ignores the layer's dilation rate in its
 * forward pass ("TODO: add support for dilation"); so does this rule, to stay the same function.
 */
import { tf } from '../../backend/tf.js';
import { depthwiseKernelGrads } from './convGrads.js';
import { kernelConvolutionRule } from './kernelConvolution.js';
import { missingKernel } from './rule.js';

export const depthwiseConv2dRule = kernelConvolutionRule({
  kind: 'depthwiseConv2d',
  className: 'DepthwiseConv2D',
  kernelField: 'depthwiseKernel',
  dilated: false,
  noGradient: (layer) => missingKernel(layer, 'DepthwiseConv2dNativeBackpropInput'),
  forward: (a, kernel, g) => tf.depthwiseConv2d(a, kernel, g.strides, g.padding, 'NHWC'),
  kernelGrads: depthwiseKernelGrads,
});
