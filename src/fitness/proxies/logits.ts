/**
 * The model's logits: its output without the final softmax. The reference models end in a
 * linear layer and synflow and jacov differentiate the sum of its outputs; a softmax output
 * sums to 1 whatever the input and weights, so that gradient would vanish identically. Only a
 * softmax is removed: any other output activation is part of the model and stays.
 */
import { tf } from '../../backend/tf.js';
import { UnsupportedError } from '../../errors.js';

type Layer = tf.layers.Layer;

/** A {@link GraphRun} `replace` rule computing the output layer without its softmax (identity elsewhere). */
export function withoutSoftmax(model: tf.LayersModel): (layer: Layer, inputs: tf.Tensor[]) => tf.Tensor | undefined {
  const output = model.outputs[0]!.sourceLayer as Layer;
  const cls = output.getClassName();
  const config = output.getConfig();
  if (cls === 'Softmax' || (cls === 'Activation' && config.activation === 'softmax')) {
    return (layer, inputs) => (layer === output ? inputs[0] : undefined);
  }
  if (config.activation !== 'softmax') return () => undefined;
  if (cls === 'Dense') return (layer, inputs) => (layer === output ? denseLogits(layer, inputs[0]!) : undefined);
  if (cls === 'Conv2D' && config.dataFormat === 'channelsLast') {
    return (layer, inputs) => (layer === output ? conv2dLogits(layer, inputs[0]!) : undefined);
  }
  throw new UnsupportedError(`output layer ${output.name} (${cls}) ends in a softmax that cannot be taken off: end the model with Dense, Conv2D or a separate Softmax layer`);
}

function weight(layer: Layer, suffix: 'kernel' | 'bias'): tf.Tensor | undefined {
  return layer.weights.find((w) => w.originalName.endsWith(suffix))?.read();
}

/** Dense before its activation: `x W + b` on the last axis (tfjs' Dense acts on the last axis of any rank). */
function denseLogits(layer: Layer, x: tf.Tensor): tf.Tensor {
  const kernel = weight(layer, 'kernel') as tf.Tensor2D;
  const [inputs, units] = kernel.shape;
  const z = addBias(x.reshape([-1, inputs]).matMul(kernel), weight(layer, 'bias'));
  return z.reshape([...x.shape.slice(0, -1), units]);
}

/** Conv2D (channels last) before its activation. */
function conv2dLogits(layer: Layer, x: tf.Tensor): tf.Tensor {
  const config = layer.getConfig();
  const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [Number(v), Number(v)]);
  const z = tf.conv2d(
    x as tf.Tensor4D, weight(layer, 'kernel') as tf.Tensor4D, pair(config.strides),
    config.padding as 'valid' | 'same', 'NHWC', pair(config.dilationRate ?? 1),
  );
  return addBias(z, weight(layer, 'bias'));
}

const addBias = (z: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor => (bias ? z.add(bias) : z);
