/**
 * Per-example kernel gradients of 2-D convolutions (NHWC), each as ONE depthwise convolution
 * with the batch folded into the channels. Shared by the Conv2D, DepthwiseConv2D and
 * SeparableConv2D rules.
 */
import { tf } from '../../backend/tf.js';
import { type Unsupported, exampleShape, pair, unsupported, variableField } from './rule.js';

/** How a convolution slides, as tfjs-layers calls it. */
export interface ConvGeometry {
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dilations: [number, number];
}

/** 'same' padding exactly as tfjs computes it (the odd pixel at the bottom/right). */
export function samePadding(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function padded(a: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  if (g.padding === 'valid') return a;
  const [, h, w] = a.shape;
  const ph = samePadding(h, g.kernelSize[0], g.strides[0], g.dilations[0]);
  const pw = samePadding(w, g.kernelSize[1], g.strides[1], g.dilations[1]);
  return tf.pad(a, [[0, 0], ph, pw, [0, 0]]);
}

/**
 * Per-example gradients of a Conv2D kernel [kh, kw, cin, cout]: with the batch as channels,
 * dW_n[i, j, c, m] = Σ_p x_n[p·s + (i, j)·d, c] · δ_n[p, m] is a depthwise convolution of x
 * (as [cin, H, W, b]) with δ (as the filter [oh, ow, b, cout]), the forward stride as its dilation
 * and the forward dilation as its stride (tfjs never has both above 1). Returns [b, kh·kw·cin·cout].
 */
export function conv2dKernelGrads(a: tf.Tensor4D, delta: tf.Tensor4D, g: ConvGeometry): tf.Tensor2D {
  return tf.tidy(() => {
    const [kh, kw] = g.kernelSize;
    const [b, , , cin] = a.shape;
    const cout = delta.shape[3];
    const x = padded(a, g).transpose([3, 1, 2, 0]) as tf.Tensor4D; // [cin, H, W, b]
    const f = delta.transpose([1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, b, cout]
    const out = tf.depthwiseConv2d(x, f, g.dilations, 'valid', 'NHWC', g.strides); // [cin, ≥kh, ≥kw, b·cout]
    return out
      .slice([0, 0, 0, 0], [cin, kh, kw, b * cout])
      .reshape([cin, kh, kw, b, cout])
      .transpose([3, 1, 2, 0, 4])
      .reshape([b, kh * kw * cin * cout]);
  });
}

/**
 * Per-example gradients of a depthwise kernel [kh, kw, cin, M]: dW_n[i, j, c, m] =
 * Σ_p x_n[p·s + (i, j)·d, c] · δ_n[p, c·M + m] pairs channel c of x with channels c·M..c·M+M−1 of δ,
 * so with the b·cin (example, channel) pairs as the channels it is ONE depthwise convolution of
 * x (as [1, H, W, b·cin]) with δ (as the filter [oh, ow, b·cin, M]). Returns [b, kh·kw·cin·M].
 */
export function depthwiseKernelGrads(a: tf.Tensor4D, delta: tf.Tensor4D, g: ConvGeometry): tf.Tensor2D {
  return tf.tidy(() => {
    const [kh, kw] = g.kernelSize;
    const [b, , , cin] = a.shape;
    const [, oh, ow, cm] = delta.shape;
    const m = cm / cin;
    const xp = padded(a, g);
    const x = xp.transpose([1, 2, 0, 3]).reshape([1, xp.shape[1], xp.shape[2], b * cin]) as tf.Tensor4D;
    const f = delta.transpose([1, 2, 0, 3]).reshape([oh, ow, b * cin, m]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(x, f, g.dilations, 'valid', 'NHWC', g.strides); // [1, ≥kh, ≥kw, b·cin·M]
    return out
      .slice([0, 0, 0, 0], [1, kh, kw, b * cin * m])
      .reshape([kh, kw, b, cin * m])
      .transpose([2, 0, 1, 3])
      .reshape([b, kh * kw * cin * m]);
  });
}

/** Per-example bias gradients of a convolution: δ summed over the positions, [b, channels]. */
export function biasGrads(delta: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => delta.sum([1, 2]) as tf.Tensor2D);
}

/** What every convolution rule reads off its layer before it can bind, or why it cannot. */
export interface ConvBinding {
  config: tf.serialization.ConfigDict;
  bias: tf.LayerVariable | null;
  /** One example's output shape. */
  out: number[];
  geometry: ConvGeometry;
}

/**
 * The shared part of binding a convolution layer: its config, bias and output shape, the
 * channels-last check, and its geometry from `kernel` (the variable whose first two dimensions
 * are the window); `dilated` false for layers without dilation (depthwise).
 */
export function bindConvolution(layer: tf.layers.Layer, outputShape: readonly (number | null)[], kernel: tf.LayerVariable, dilated = true): ConvBinding | Unsupported {
  const config = layer.getConfig();
  const out = exampleShape(outputShape);
  if (config.dataFormat !== 'channelsLast') return unsupported(`layer ${layer.name}: only channelsLast convolutions have a batched rule`);
  if (!out) return unsupported(`layer ${layer.name}: output shape ${JSON.stringify(outputShape)} is not fully known`);
  const geometry: ConvGeometry = {
    kernelSize: [kernel.shape[0]!, kernel.shape[1]!],
    strides: pair(config.strides),
    padding: config.padding as 'valid' | 'same',
    dilations: dilated ? pair(config.dilationRate ?? 1) : [1, 1],
  };
  return { config, bias: variableField(layer, 'bias'), out, geometry };
}
